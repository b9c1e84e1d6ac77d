"""The template store: one SQLite file (WAL), every template sealed with AES-GCM.

Rows and what protects them:

* ``templates`` - one sealed int8 embedding per enrolment signature; the
  associated data binds user, template id and model sha256, so a row moved,
  renamed or read under another model fails authentication.
* ``users`` - the model enrolled with (another means "re-enrolment needed"),
  a sealed profile listing the template ids (a template row deleted or added
  is detected) and the lockout counters, tagged under the key with the
  attempt numbers kept (``edge.ledger``).
* ``attempts`` - the replay history: enrolment traces and the attempts kept
  (accepted up to ``replay_history``, rejected up to ``REJECTED_KEPT``), each
  sealed with its number, time, verdict and stream MAC.
* ``meta`` - schema version, a sealed key check (a wrong key is reported as
  such) and the sealed ledger; ``<store>.gen`` holds the newest generation.
* ``decisions`` - each user's last decisions for the operator (``sigpad
  history``): time in clear, reason, score and pad sealed per entry. Not
  part of the authenticated state: it informs, it decides nothing.

Deleting, editing or restoring rows from an older copy - or the whole file
while the anchor is newer - is refused as tampering, never read as a clean
state. A file that is empty, truncated or not a sigpad store is reported as
damaged and left as it is (``store_schema``). Every change is one ``BEGIN
IMMEDIATE`` transaction (a crash mid-enrolment keeps the previous one; two
processes wait for each other), and a judged attempt - lockout check, replay
history, record, new counters - is one such transaction (``judge``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import AlreadyEnrolled, ConfigError, ReenrolmentNeeded, StoreError, TemplateIntegrityError, UnknownUser
from .keys import StoreKeys
from .ledger import Anchor, Ledger, Sealer, ad, attempt_ad, read_ledger, write_ledger
from .lockout import LockState
from .store_schema import (
    SCHEMA_VERSION,
    Attempt,
    History,
    Replacement,
    checked_user_row,
    insert_template,
    open_profile,
    pack_attempt,
    prepare,
    prune_attempts,
    read_history,
    replace_template,
    retag_user,
    seal_profile,
)

__all__ = [
    "REJECTED_KEPT",
    "SCHEMA_VERSION",
    "Attempt",
    "Enrolled",
    "History",
    "Judged",
    "Replacement",
    "Store",
    "UserInfo",
    "check_user_id",
]

_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
REJECTED_KEPT = 50
"""Rejected attempts kept per user (accepted ones: ``Settings.replay_history``)."""
DECISIONS_KEPT = 100  # decisions kept per user for `sigpad history`


@dataclass(frozen=True)
class Enrolled:
    """What verification needs of one user, decrypted."""

    user: str
    templates: list[bytes]
    stream_macs: list[bytes]
    profile: dict


@dataclass(frozen=True)
class UserInfo:
    user: str
    templates: int
    model_sha256: str
    enrolled_at: float
    locked_until: float

    def to_dict(self, current_sha: str | Collection[str] | None = None) -> dict:
        """``current_sha``: the active model's sha256, or those of several (one per pad kind)."""
        d = {"user": self.user, "templates": self.templates, "model_sha256": self.model_sha256,
             "enrolled_at": self.enrolled_at, "locked_until": self.locked_until}
        if current_sha is not None:
            current = {current_sha} if isinstance(current_sha, str) else set(current_sha)
            d["needs_reenrolment"] = self.model_sha256 not in current
        return d


@dataclass(frozen=True)
class Judged:
    """A judge's verdict: the attempt to record (None: none), the new lock state
    (None: unchanged), what ``Store.judge`` hands back to its caller, and a
    template to replace (None: none) in the same transaction."""

    attempt: Attempt | None
    state: LockState | None
    result: object = None
    replacement: Replacement | None = None


def check_user_id(user: str) -> str:
    """A user id: 1-64 of letters, digits and ``._@+-``, starting with a letter or digit."""
    if not isinstance(user, str) or not _USER_ID.fullmatch(user):
        raise ConfigError(f"invalid user id {user!r}: use 1-64 letters, digits and ._@+-")
    return user


class Store:
    """An open template store. Safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike, keys: StoreKeys, timeout_s: float = 10.0):
        self.path = Path(path)
        self._sealer = Sealer(keys.aead)
        self.mac_key = keys.mac
        self.anchor = Anchor(self.path)
        self._lock = threading.RLock()
        self._advanced: int | None = None     # generation reached by the transaction in progress
        self._anchor_seen = 0                  # the anchor as read before it began
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = not self.path.exists()
            if not fresh and self.path.is_file() and self.path.stat().st_size == 0:
                raise StoreError(f"{self.path}: the store file is empty (damaged or truncated); it was "
                                 "left as it is: restore it, or move it away to start a new store")
            self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None,
                                       check_same_thread=False)
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

    # --- plumbing -----------------------------------------------------------------

    @contextmanager
    def _tx(self, mode: str = "IMMEDIATE"):
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

    def _query(self, sql: str, args=()) -> list:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _durable(self):
        """FULL sync for one change: an enrolment reported done survives a power cut."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                yield
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def _ledger(self, db) -> Ledger:
        """The sealed ledger, checked against the anchor (rolled back: refused)."""
        ledger = read_ledger(db, self._sealer)
        self.anchor.check(ledger, self._anchor_seen)
        return ledger

    def _commit_ledger(self, db, ledger: Ledger) -> None:
        write_ledger(db, self._sealer, ledger)
        self._advanced = ledger.generation

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- enrolment --------------------------------------------------------------

    def save_enrolment(self, user: str, model_sha: str, templates: list[bytes],
                       stream_macs: list[bytes], stats: dict, raw: list[str] | None = None,
                       replace: bool = False, traces: list[bytes | None] | None = None,
                       binding: dict | None = None) -> None:
        """Store a user's enrolment in one transaction (replacing an old one if asked).

        ``traces``: the enrolment signatures' traces (``edge.replay``), kept in
        the user's replay history; ``binding``: the model's manifest as it was
        enrolled with (``edge.manifest.binding``), kept in the ledger.
        """
        check_user_id(user)
        ids = [os.urandom(8).hex() for _ in templates]
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            exists = db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone()
            if exists and not replace:
                raise AlreadyEnrolled(f"{user!r} is already enrolled; re-enrol with --replace")
            self._delete_rows(db, user)
            generation = ledger.advance(user)
            if binding is not None:
                ledger.models[model_sha] = binding
            db.execute("INSERT INTO users (user_id, model_sha256, enrolled_at, profile, generation) "
                       "VALUES (?,?,?,?,?)", (user, model_sha, time.time(),
                                              seal_profile(self._sealer, user, model_sha,
                                                           {"template_ids": ids, **stats}),
                                              generation))
            for tid, tpl, mac in zip(ids, templates, stream_macs):
                self._insert_template(db, user, tid, tpl, mac, model_sha)
            for tid, text in zip(ids, raw or []):
                db.execute("INSERT INTO raw_signatures VALUES (?,?,?)",
                           (user, tid, self._sealer.seal(text.encode(), ad("raw", user, tid))))
            enrolled = [Attempt(mac, b"", True, tr, "enrol") for mac, tr in zip(stream_macs, traces or [])]
            for seq, attempt in enumerate(enrolled):
                self._insert_attempt(db, user, model_sha, seq, attempt)
            db.execute("UPDATE users SET next_seq=? WHERE user_id=?", (len(enrolled), user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)

    def _insert_template(self, db, user, tid, template, mac, model_sha) -> None:
        insert_template(db, self._sealer, user, tid, template, mac, model_sha)  # adaptation seals the same way

    def _insert_attempt(self, db, user: str, model_sha: str, seq: int, a: Attempt) -> None:
        at = time.time()
        sealed = self._sealer.seal(pack_attempt(a.embedding, a.trace),
                                   attempt_ad(user, model_sha, seq, at, a.accepted, a.kind, a.stream_mac))
        db.execute("INSERT INTO attempts (user_id, seq, at, accepted, kind, stream_mac, sealed) "
                   "VALUES (?,?,?,?,?,?,?)", (user, seq, at, int(a.accepted), a.kind, a.stream_mac, sealed))

    @staticmethod
    def _delete_rows(db, user: str) -> None:
        for table in ("users", "templates", "raw_signatures", "attempts"):
            db.execute(f"DELETE FROM {table} WHERE user_id=?", (user,))

    def load(self, user: str, model_sha: str) -> Enrolled:
        """A user's templates, decrypted and checked; raises the store errors.
        One snapshot: a re-enrolment committed between two reads is no tampering."""
        with self._tx("DEFERRED") as db:
            rows = db.execute("SELECT model_sha256, CAST(profile AS BLOB) FROM users WHERE user_id=?",
                              (user,)).fetchall()
            templates = db.execute("SELECT template_id, CAST(sealed AS BLOB), CAST(stream_mac AS BLOB) "
                                   "FROM templates WHERE user_id=?", (user,)).fetchall()
        if not rows:
            raise UnknownUser(f"{user!r} is not enrolled")
        enrolled_sha, sealed_profile = rows[0]
        if enrolled_sha != model_sha:
            raise ReenrolmentNeeded(f"{user!r} was enrolled with model {enrolled_sha[:12]}..., "
                                    f"this is {model_sha[:12]}...: re-enrolment needed")
        profile = open_profile(self._sealer, user, model_sha, sealed_profile)
        rows = {tid: (sealed, mac) for tid, sealed, mac in templates}
        if sorted(rows) != sorted(profile["template_ids"]):
            raise TemplateIntegrityError(f"templates of {user!r} were added or removed "
                                         f"({len(rows)} rows, {len(profile['template_ids'])} enrolled)")
        templates = [self._sealer.open(rows[t][0], ad("template", user, t, model_sha),
                                       f"template {t} of {user!r}") for t in profile["template_ids"]]
        return Enrolled(user, templates, [bytes(rows[t][1]) for t in profile["template_ids"]], profile)

    def raw_signatures(self, user: str) -> list[str]:
        rows = self._query("SELECT template_id, CAST(sealed AS BLOB) FROM raw_signatures WHERE user_id=?", (user,))
        return [self._sealer.open(s, ad("raw", user, t), f"raw signature of {user!r}").decode()
                for t, s in rows]

    def model_binding(self, model_sha: str) -> dict | None:
        """The manifest ``model_sha`` was last enrolled with (None: no enrolment with it yet)."""
        with self._tx("DEFERRED") as db:
            return self._ledger(db).models.get(model_sha)

    # --- users ------------------------------------------------------------------

    def users(self) -> list[UserInfo]:
        rows = self._query(
            "SELECT u.user_id, COUNT(t.template_id), u.model_sha256, u.enrolled_at, u.locked_until "
            "FROM users u LEFT JOIN templates t ON t.user_id = u.user_id "
            "GROUP BY u.user_id ORDER BY u.user_id")
        return [UserInfo(*r) for r in rows]

    def delete(self, user: str) -> bool:
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            found = db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone()
            self._delete_rows(db, user)
            db.execute("DELETE FROM decisions WHERE user_id=?", (user,))
            if found or user in ledger.users:
                ledger.users.pop(user, None)
                ledger.advance()
                self._commit_ledger(db, ledger)
        return found is not None

    # --- lockout and the replay history ---------------------------------------------

    def lock_state(self, user: str) -> LockState:
        """The user's lockout counters, authenticated (an unknown user: none)."""
        with self._tx("DEFERRED") as db:
            row = checked_user_row(db, self._sealer, user, self._ledger(db))
        return LockState() if row is None else LockState(row[1], row[2])

    def history(self, user: str) -> History:
        """The user's lock state and replay history, authenticated; ``UnknownUser`` if none."""
        with self._tx("DEFERRED") as db:
            return read_history(db, self._sealer, user, self._ledger(db))[1]

    def judge(self, user: str, judge: Callable[[History], Judged], keep_accepted: int):
        """Judge one attempt in one transaction: ``judge(history)`` sees the user's
        authenticated state, and what it returns is recorded before anyone else is
        judged (so parallel attempts cannot all pass a lockout check). Returns
        ``judge``'s ``result``. Committed with FULL sync, like every change the anchor
        follows: pulling the plug must not erase a failure (nor leave the anchor
        ahead of the file)."""
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            row, history = read_history(db, self._sealer, user, ledger)
            profile = open_profile(self._sealer, user, row[0], db.execute(
                "SELECT CAST(profile AS BLOB) FROM users WHERE user_id=?", (user,)).fetchone()[0])
            verdict = judge(dataclasses.replace(history, profile=profile))
            if verdict.attempt is None and verdict.state is None:
                return verdict.result
            sha, next_seq = row[0], row[4]
            state = verdict.state or history.state
            if verdict.attempt is not None:
                self._insert_attempt(db, user, sha, next_seq, verdict.attempt)
                next_seq += 1
                prune_attempts(db, user, keep_accepted, REJECTED_KEPT)
            if verdict.replacement is not None:
                replace_template(db, self._sealer, user, sha, profile, verdict.replacement)
            db.execute("UPDATE users SET failures=?, locked_until=?, generation=?, next_seq=? WHERE user_id=?",
                       (state.failures, state.locked_until, ledger.advance(user), next_seq, user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)
            return verdict.result

    def unlock(self, user: str) -> LockState | None:
        """Clear a user's failures and lock, sealed like a judgement; the state it had
        (None: no such user)."""
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            row = checked_user_row(db, self._sealer, user, ledger)
            if row is None:
                return None
            db.execute("UPDATE users SET failures=0, locked_until=0, generation=? WHERE user_id=?",
                       (ledger.advance(user), user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)
        return LockState(row[1], row[2])

    def enrolled_model(self, user: str) -> str | None:
        """The sha256 of the model the user was enrolled with (None: not enrolled)."""
        rows = self._query("SELECT model_sha256 FROM users WHERE user_id=?", (user,))
        return rows[0][0] if rows else None

    # --- decisions, for the operator ------------------------------------------------------

    def log_decision(self, user: str, at: float, entry: dict, keep: int = DECISIONS_KEPT) -> None:
        """Keep ``entry`` (JSON values) in an enrolled user's decision log; unknown users have none."""
        sealed = self._sealer.seal(json.dumps(entry).encode(), ad("decision", user))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone() is None:
                return
            db.execute("INSERT INTO decisions (user_id, at, sealed) VALUES (?,?,?)", (user, at, sealed))
            db.execute("DELETE FROM decisions WHERE user_id=? AND id NOT IN (SELECT id FROM decisions "
                       "WHERE user_id=? ORDER BY id DESC LIMIT ?)", (user, user, keep))

    def decision_log(self, user: str, limit: int = 20) -> list[dict]:
        """The user's last ``limit`` decisions, newest first, each with its time ``at``."""
        rows = self._query("SELECT at, CAST(sealed AS BLOB) FROM decisions WHERE user_id=? "
                           "ORDER BY id DESC LIMIT ?", (user, limit))
        return [{"at": at, **json.loads(self._sealer.open(s, ad("decision", user), f"decisions of {user!r}"))}
                for at, s in rows]

    # --- counters ---------------------------------------------------------------------

    def count(self, name: str, by: int = 1) -> None:
        """Statistics (enrolments, failures to enrol): not part of the sealed state."""
        with self._tx() as db:
            db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                       "SET value = value + excluded.value", (name, by))

    def counters(self) -> dict[str, int]:
        return dict(self._query("SELECT name, value FROM counters ORDER BY name"))
