"""A kiosk's fleet state: ``fleet.db`` beside the store (SQLite, FULL sync).

* ``outbox`` - what the hub has not acknowledged yet, in order: template
  puts and deletes (compare-and-set on ``base_rev``) and audit events, each
  with the message id the hub de-duplicates on. A row is deleted only after
  the hub's acknowledgement, so a kill -9 or a power cut at any point either
  keeps it (sent again, de-duplicated by its id) or had it acknowledged.
  (tests/edge/app/fleet/test_fleet_power_loss.py replays power cuts from a
  trace of the writes and fsyncs; docs/fleet.md says what that covers.)
* ``known`` - per user, the KV revision this kiosk's store holds, and the
  id of the enrolment (so a kiosk does not re-apply its own record).
* ``meta`` - the cursors (last KV and audit stream sequence applied), the
  last sync time and the last link error.

The file is 0600: its outbox holds sealed records and the audit events.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL, user_id TEXT NOT NULL, base_rev INTEGER NOT NULL DEFAULT 0,
    enrol_id TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS known (user_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, enrol_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

PUT, DELETE, AUDIT = "put", "del", "audit"


@dataclass(frozen=True)
class Pending:
    """One outbox row."""

    row: int
    msg_id: str
    kind: str
    user: str
    base_rev: int
    enrol_id: str
    payload: bytes


class FleetState:
    """The kiosk's fleet.db; one connection, used from one thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        fresh = not path.exists()
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        if fresh:
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL (WAL): a crash of the process loses nothing; a power cut may roll back the
        # last cursors and deletions, which only re-applies (idempotent, or one failure
        # counted again: fail-safe) or re-sends (de-duplicated by message id). A queued row
        # must survive a power cut too: enqueue commits with FULL (``_tx(durable=True)``).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")

    # --- the outbox -------------------------------------------------------------------

    def enqueue(self, kind: str, user: str, payload: bytes, base_rev: int = 0, enrol_id: str = "") -> str:
        msg_id = uuid.uuid4().hex
        with self._tx(durable=True) as db:
            db.execute("INSERT INTO outbox (msg_id, kind, user_id, base_rev, enrol_id, payload, created) "
                       "VALUES (?,?,?,?,?,?,?)", (msg_id, kind, user, base_rev, enrol_id, payload, time.time()))
        return msg_id

    def audit(self, event: str, user: str, kiosk: str, **fields: Any) -> str:
        """Queue one audit event (its id is its message id)."""
        entry = {"event": event, "user": user, "kiosk": kiosk, "at": time.time(), **fields}
        msg_id = uuid.uuid4().hex
        entry["id"] = msg_id
        with self._tx(durable=True) as db:
            db.execute("INSERT INTO outbox (msg_id, kind, user_id, payload, created) VALUES (?,?,?,?,?)",
                       (msg_id, AUDIT, user, json.dumps(entry).encode(), entry["at"]))
        return msg_id

    def pending(self) -> list[Pending]:
        rows = self._db.execute("SELECT id, msg_id, kind, user_id, base_rev, enrol_id, payload FROM outbox "
                                "ORDER BY id").fetchall()
        return [Pending(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]

    def done(self, row: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE id=?", (row,))

    def depth(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def pending_put(self, user: str) -> bool:
        """A template change of ``user`` not yet acknowledged (the fleet's value must not overwrite it yet)."""
        return self._db.execute("SELECT 1 FROM outbox WHERE user_id=? AND kind IN (?, ?)",
                                (user, PUT, DELETE)).fetchone() is not None

    # --- what this kiosk holds --------------------------------------------------------

    def known(self, user: str) -> tuple[int, str]:
        """(revision, enrolment id) of ``user`` as this kiosk holds it; (0, "") none."""
        r = self._db.execute("SELECT revision, enrol_id FROM known WHERE user_id=?", (user,)).fetchone()
        return (0, "") if r is None else (int(r[0]), str(r[1]))

    def set_known(self, user: str, revision: int, enrol_id: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO known VALUES (?,?,?) ON CONFLICT(user_id) DO UPDATE "
                       "SET revision=excluded.revision, enrol_id=excluded.enrol_id", (user, revision, enrol_id))

    # --- cursors and status -----------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        r = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if r is None else str(r[0])

    def put(self, key: str, value: object) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (key, str(value)))

    def cursor(self, name: str) -> int:
        return int(self.get(f"cursor.{name}", "0"))

    def advance(self, name: str, seq: int) -> None:
        self.put(f"cursor.{name}", seq)
