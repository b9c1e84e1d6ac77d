"""The store's SQLite file: opening it, one transaction at a time, the ledger and its anchor.

``StoreFile`` is what ``edge.store.Store`` stands on: it opens (or creates)
the file, has ``store_schema.prepare`` check or migrate it, and runs every
read and change as one transaction under one lock, so that a store can be
shared between threads of one process. Rows are read by column name (the
connection's rows are ``sqlite3.Row``). After a commit that advanced the
ledger, the anchor (``edge.ledger.Anchor``) follows; ``repair_anchor``
rewrites a damaged anchor from the sealed ledger.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from firmware_bridge.private_files import create_private_file, make_private_dirs

from .errors import StoreError, StoreMissing, TemplateIntegrityError
from .keys import StoreKeys
from .ledger import Anchor, AnchorReading, Ledger, Sealer, read_ledger, write_ledger
from .store_schema import prepare

log = logging.getLogger("sigpad")


class StoreFile:
    """An open store file: its transactions, its sealer, its ledger and anchor."""

    def __init__(self, path: str | os.PathLike[str], keys: StoreKeys, timeout_s: float = 10.0):
        self.path = Path(path)
        self._sealer = Sealer(keys.aead)
        self.mac_key = keys.mac
        self.anchor = Anchor(self.path, keys.mac)
        self._lock = threading.RLock()
        self._advanced: int | None = None     # generation reached by the transaction in progress
        self._anchor_seen = AnchorReading()    # the anchor as read before it began
        try:
            make_private_dirs(self.path.parent)
            fresh = not self.path.exists()
            if not fresh and self.path.is_file() and self.path.stat().st_size == 0:
                raise StoreError(f"{self.path}: the store file is empty (damaged or truncated); it was "
                                 "left as it is: restore it, or move it away to start a new store")
            if fresh:
                create_private_file(self.path)     # 0600 before SQLite writes a byte of it
            self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None,
                                       check_same_thread=False)
            self._db.row_factory = sqlite3.Row
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        try:
            self._setup(fresh)
        except BaseException:
            self._db.close()
            raise

    def _setup(self, fresh: bool) -> None:
        try:
            if fresh:
                os.chmod(self.path, 0o600)
                self.anchor.path.unlink(missing_ok=True)   # a new store: an old anchor is not its own
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: never corrupt, but a power cut may lose the last
            # commits; every change of the sealed state switches to FULL (_durable).
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._tx() as db:
                prepare(db, self._sealer, fresh, str(self.path))
                self._advanced = self._ledger(db).generation   # a migrated store gets its anchor
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: damaged or not a sigpad store ({exc}); it was left as it is") \
                from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    @contextmanager
    def _tx(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction; after a commit that advanced the ledger, the anchor follows.

        The anchor is read before the transaction starts: anchors are written
        after their commits, so whatever it says is inside this transaction's
        snapshot (read later, a commit that landed meanwhile would look like
        a database behind its anchor)."""
        with self._lock:
            self._anchor_seen = self.anchor.read()
            try:
                self._db.execute(f"BEGIN {mode}")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            self._advanced = None
            try:
                yield self._db
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):   # a damaged file found mid-way: ours to name
                    raise StoreError(f"{self.path}: damaged or unreadable store: {exc}") from exc
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: commit failed: {exc}") from exc
            if self._advanced:
                self.anchor.advance(self._advanced)

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolled back already (e.g. on a damaged page)

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _durable(self) -> Iterator[None]:
        """FULL sync for one change: an enrolment reported done survives a power cut."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                yield
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def _ledger(self, db: sqlite3.Connection) -> Ledger:
        """The sealed ledger, checked against the anchor (rolled back: refused)."""
        ledger = read_ledger(db, self._sealer)
        self.anchor.check(ledger, self._anchor_seen)
        return ledger

    def _commit_ledger(self, db: sqlite3.Connection, ledger: Ledger) -> None:
        write_ledger(db, self._sealer, ledger)
        self._advanced = ledger.generation

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class AnchorRepair:
    """What ``repair_anchor`` found and wrote."""

    anchor: Path
    was: str            # "missing", "damaged", "generation N" (+ " (plain format, no HMAC)")
    generation: int     # written: the sealed ledger's


def repair_anchor(path: str | os.PathLike[str], keys: StoreKeys, accept_rollback: bool = False) -> AnchorRepair:
    """Rewrite ``<path>.gen`` from the store's sealed ledger (authenticated with ``keys``).

    A missing, damaged or plain-format anchor is rewritten. An authentic anchor
    ahead of the ledger means the store was rolled back: refused unless
    ``accept_rollback`` (a backup restored on purpose). Holds the store's write
    lock meanwhile, counts ``anchor_repairs`` and logs what it did.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreMissing(f"no template store at {path}")
    anchor = Anchor(path, keys.mac)
    try:
        db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    db.row_factory = sqlite3.Row
    try:
        db.execute("BEGIN IMMEDIATE")
        ledger = read_ledger(db, Sealer(keys.aead))
        reading = anchor.read()
        was = _described(anchor, reading)
        if reading.authentic and reading.generation > ledger.generation and not accept_rollback:
            raise TemplateIntegrityError(f"{anchor.path}: authentic and at {reading.generation}, the store is at "
                                         f"{ledger.generation}: the store was rolled back, the anchor is not "
                                         "damaged; add --accept-rollback if a backup was restored on purpose")
        anchor.write(ledger.generation)
        db.execute("INSERT INTO counters VALUES ('anchor_repairs', 1) ON CONFLICT(name) DO UPDATE "
                   "SET value = value + 1")
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: damaged or unreadable store: {exc}") from exc
    finally:
        db.close()
    log.warning("anchor %s repaired: was %s, now generation %d from the sealed ledger",
                anchor.path, was, ledger.generation)
    return AnchorRepair(anchor.path, was, ledger.generation)


def _described(anchor: Anchor, reading: AnchorReading) -> str:
    """The anchor as an operator should read it."""
    if reading.damaged:
        return "damaged"
    if not anchor.path.exists():
        return "missing"
    return f"generation {reading.generation}" + ("" if reading.authentic else " (plain format, no HMAC)")
