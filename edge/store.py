"""The template store: one SQLite file (WAL), every template sealed with AES-GCM.

Rows and what protects them:

* ``templates`` - one sealed int8 embedding per enrolment signature. The
  AES-GCM associated data binds the user id, the template id and the model's
  sha256, so a row copied to another user, renamed, or read under another
  model fails authentication instead of matching.
* ``users`` - the model sha256 the user was enrolled with (a different model
  means "re-enrolment needed"), lockout counters, and a sealed *profile*: the
  template ids and the user's own score statistics. Because the profile lists
  the template ids, deleting or adding a template row is detected too.
* ``attempts`` - the recent attempts of each user (HMAC of the stream and a
  sealed int8 embedding) for replay detection, pruned to a fixed history.
* ``meta`` - the schema version and a sealed key check, so that a wrong key
  is reported as a wrong key rather than as tampering with every row.
* ``history`` - each user's last decisions for the operator (``sigpad
  history``): time in clear, reason, score and pad sealed; unlocks too.

Every change is one ``BEGIN IMMEDIATE`` transaction: a crash in the middle of
an enrolment leaves the previous enrolment intact, and two processes on one
store wait for each other (busy timeout) instead of interleaving.
"""

from __future__ import annotations

import json
import re
import os
import sqlite3
import threading
import time
from collections.abc import Collection
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import (AlreadyEnrolled, ConfigError, ReenrolmentNeeded, StoreError, TemplateIntegrityError,
                     UnknownUser)

from .keys import StoreKeys
from .lockout import LockState

SCHEMA_VERSION = 1
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
NONCE = 12
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, model_sha256 TEXT NOT NULL, enrolled_at REAL NOT NULL,
    profile BLOB NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS templates (
    user_id TEXT NOT NULL, template_id TEXT NOT NULL, sealed BLOB NOT NULL,
    stream_mac BLOB NOT NULL, PRIMARY KEY (user_id, template_id));
CREATE TABLE IF NOT EXISTS raw_signatures (
    user_id TEXT NOT NULL, template_id TEXT NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (user_id, template_id));
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at REAL NOT NULL,
    accepted INTEGER NOT NULL, stream_mac BLOB NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_user ON attempts (user_id, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at REAL NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_user ON history (user_id, id);
"""
HISTORY_KEPT = 100  # decisions kept per user for `sigpad history`


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
class Attempt:
    stream_mac: bytes
    embedding: bytes
    accepted: bool


def check_user_id(user: str) -> str:
    """A user id: 1-64 of letters, digits and ``._@+-``, starting with a letter or digit."""
    if not isinstance(user, str) or not _USER_ID.fullmatch(user):
        raise ConfigError(f"invalid user id {user!r}: use 1-64 letters, digits and ._@+-")
    return user


def _ad(*parts: str) -> bytes:
    return "\x00".join(("sigpad/1",) + parts).encode()


class Store:
    """An open template store. Safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike, keys: StoreKeys, timeout_s: float = 10.0):
        self.path = Path(path)
        self._aead = AESGCM(keys.aead)
        self.mac_key = keys.mac
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = not self.path.exists()
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
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: never corrupt, but a power cut may lose the last
            # attempts logged; enrolments switch to FULL (see save_enrolment).
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._tx() as db:
                # executescript() would commit first; run the statements in the transaction.
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                self._check_key(db)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    # --- plumbing -----------------------------------------------------------------

    @contextmanager
    def _tx(self):
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise StoreError(f"{self.path}: commit failed: {exc}") from exc

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

    def _seal(self, plain: bytes, ad: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plain, ad)

    def _open(self, sealed: bytes, ad: bytes, what: str) -> bytes:
        try:
            return self._aead.decrypt(bytes(sealed[:NONCE]), bytes(sealed[NONCE:]), ad)
        except (InvalidTag, ValueError, TypeError):
            raise TemplateIntegrityError(f"{what} fails authentication: the row was altered "
                                         f"or moved; re-enrol this user") from None

    def _check_key(self, db) -> None:
        row = db.execute("SELECT value FROM meta WHERE key='key_check'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('key_check', ?)", (self._seal(b"ok", _ad("key")),))
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return
        try:
            self._aead.decrypt(row[0][:NONCE], row[0][NONCE:], _ad("key"))
        except InvalidTag:
            raise TemplateIntegrityError(
                f"{self.path}: the key does not open this store (wrong key file or credential)") from None

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
                       replace: bool = False) -> None:
        """Store a user's enrolment in one transaction (replacing an old one if asked)."""
        check_user_id(user)
        ids = [os.urandom(8).hex() for _ in templates]
        profile = json.dumps({"template_ids": ids, **stats}).encode()
        with self._durable(), self._tx() as db:
            exists = db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone()
            if exists and not replace:
                raise AlreadyEnrolled(f"{user!r} is already enrolled; re-enrol with --replace")
            self._delete_rows(db, user)
            db.execute("INSERT INTO users (user_id, model_sha256, enrolled_at, profile) VALUES (?,?,?,?)",
                       (user, model_sha, time.time(), self._seal(profile, _ad("profile", user, model_sha))))
            for tid, tpl, mac in zip(ids, templates, stream_macs):
                self._insert_template(db, user, tid, tpl, mac, model_sha)
            for tid, text in zip(ids, raw or []):
                db.execute("INSERT INTO raw_signatures VALUES (?,?,?)",
                           (user, tid, self._seal(text.encode(), _ad("raw", user, tid))))

    def _insert_template(self, db, user, tid, template, mac, model_sha) -> None:
        db.execute("INSERT INTO templates VALUES (?,?,?,?)",
                   (user, tid, self._seal(template, _ad("template", user, tid, model_sha)), mac))

    @staticmethod
    def _delete_rows(db, user: str) -> None:
        for table in ("users", "templates", "raw_signatures", "attempts"):
            db.execute(f"DELETE FROM {table} WHERE user_id=?", (user,))

    def load(self, user: str, model_sha: str) -> Enrolled:
        """A user's templates, decrypted and checked; raises the store errors."""
        rows = self._query("SELECT model_sha256, CAST(profile AS BLOB) FROM users WHERE user_id=?", (user,))
        if not rows:
            raise UnknownUser(f"{user!r} is not enrolled")
        enrolled_sha, sealed_profile = rows[0]
        if enrolled_sha != model_sha:
            raise ReenrolmentNeeded(f"{user!r} was enrolled with model {enrolled_sha[:12]}..., "
                                    f"this is {model_sha[:12]}...: re-enrolment needed")
        profile = json.loads(self._open(sealed_profile, _ad("profile", user, model_sha),
                                        f"profile of {user!r}"))  # authenticated: our own JSON
        rows = dict((tid, (sealed, mac)) for tid, sealed, mac in self._query(
            "SELECT template_id, CAST(sealed AS BLOB), CAST(stream_mac AS BLOB) FROM templates "
            "WHERE user_id=?", (user,)))
        if sorted(rows) != sorted(profile["template_ids"]):
            raise TemplateIntegrityError(f"templates of {user!r} were added or removed "
                                         f"({len(rows)} rows, {len(profile['template_ids'])} enrolled)")
        templates = [self._open(rows[t][0], _ad("template", user, t, model_sha),
                                f"template {t} of {user!r}") for t in profile["template_ids"]]
        return Enrolled(user, templates, [bytes(rows[t][1]) for t in profile["template_ids"]], profile)

    def raw_signatures(self, user: str) -> list[str]:
        rows = self._query("SELECT template_id, CAST(sealed AS BLOB) FROM raw_signatures WHERE user_id=?", (user,))
        return [self._open(s, _ad("raw", user, t), f"raw signature of {user!r}").decode()
                for t, s in rows]

    # --- users ------------------------------------------------------------------

    def users(self) -> list[UserInfo]:
        rows = self._query(
            "SELECT u.user_id, COUNT(t.template_id), u.model_sha256, u.enrolled_at, u.locked_until "
            "FROM users u LEFT JOIN templates t ON t.user_id = u.user_id "
            "GROUP BY u.user_id ORDER BY u.user_id")
        return [UserInfo(*r) for r in rows]

    def delete(self, user: str) -> bool:
        with self._tx() as db:
            found = db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone()
            self._delete_rows(db, user)
            db.execute("DELETE FROM history WHERE user_id=?", (user,))
        return found is not None

    def enrolled_model(self, user: str) -> str | None:
        """The sha256 of the model the user was enrolled with (None: not enrolled)."""
        rows = self._query("SELECT model_sha256 FROM users WHERE user_id=?", (user,))
        return rows[0][0] if rows else None

    # --- attempts and lockout ---------------------------------------------------------

    def lock_state(self, user: str) -> LockState:
        rows = self._query("SELECT failures, locked_until FROM users WHERE user_id=?", (user,))
        return LockState(*rows[0]) if rows else LockState()

    def recent_attempts(self, user: str, model_sha: str) -> list[Attempt]:
        rows = self._query("SELECT CAST(stream_mac AS BLOB), CAST(sealed AS BLOB), accepted FROM attempts "
                           "WHERE user_id=? "
                           "ORDER BY id DESC", (user,))
        return [Attempt(bytes(mac), self._open(s, _ad("attempt", user, model_sha), f"attempt of {user!r}"),
                        bool(ok)) for mac, s, ok in rows]

    def record_attempt(self, user: str, model_sha: str, stream_mac: bytes, embedding: bytes | None,
                       accepted: bool, update, history: int) -> LockState:
        """Log an attempt and move the lockout state with ``update(old) -> new``, atomically."""
        with self._tx() as db:
            row = db.execute("SELECT failures, locked_until FROM users WHERE user_id=?", (user,)).fetchone()
            if row is None:
                return LockState()  # deleted meanwhile: nothing to count against
            new = update(LockState(*row))
            db.execute("UPDATE users SET failures=?, locked_until=? WHERE user_id=?",
                       (new.failures, new.locked_until, user))
            if embedding is not None:
                db.execute("INSERT INTO attempts (user_id, at, accepted, stream_mac, sealed) VALUES (?,?,?,?,?)",
                           (user, time.time(), int(accepted), stream_mac,
                            self._seal(embedding, _ad("attempt", user, model_sha))))
                db.execute("DELETE FROM attempts WHERE user_id=? AND id NOT IN (SELECT id FROM attempts "
                           "WHERE user_id=? ORDER BY id DESC LIMIT ?)", (user, user, history))
        return new

    def unlock(self, user: str) -> LockState | None:
        """Clear a user's failures and lock; the state it had (None: no such user)."""
        with self._tx() as db:
            row = db.execute("SELECT failures, locked_until FROM users WHERE user_id=?", (user,)).fetchone()
            if row is not None:
                db.execute("UPDATE users SET failures=0, locked_until=0 WHERE user_id=?", (user,))
        return None if row is None else LockState(*row)

    # --- history (for the operator) ------------------------------------------------------

    def log_decision(self, user: str, at: float, entry: dict, keep: int = HISTORY_KEPT) -> None:
        """Keep ``entry`` (JSON values) in an enrolled user's history; unknown users have none."""
        sealed = self._seal(json.dumps(entry).encode(), _ad("history", user))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone() is None:
                return
            db.execute("INSERT INTO history (user_id, at, sealed) VALUES (?,?,?)", (user, at, sealed))
            db.execute("DELETE FROM history WHERE user_id=? AND id NOT IN (SELECT id FROM history "
                       "WHERE user_id=? ORDER BY id DESC LIMIT ?)", (user, user, keep))

    def history(self, user: str, limit: int = 20) -> list[dict]:
        """The user's last ``limit`` entries, newest first, each with its time ``at``."""
        rows = self._query("SELECT at, CAST(sealed AS BLOB) FROM history WHERE user_id=? "
                           "ORDER BY id DESC LIMIT ?", (user, limit))
        return [{"at": at, **json.loads(self._open(s, _ad("history", user), f"history of {user!r}"))}
                for at, s in rows]

    # --- counters ---------------------------------------------------------------------

    def count(self, name: str, by: int = 1) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                       "SET value = value + excluded.value", (name, by))

    def counters(self) -> dict[str, int]:
        return dict(self._query("SELECT name, value FROM counters ORDER BY name"))
