"""The store's tables and rows, what an existing file must be, and the moves from schemas 1 and 2.

``prepare`` runs once when a store is opened, inside its first transaction:
a new file gets the tables, a sealed key check and an empty ledger; an
existing one must be a sigpad store (tables, key check, a known schema) or
it is refused as damaged - never silently made into a new empty store. A
schema 1 store (attempts and counters not yet authenticated) is migrated in
that transaction: its counters and attempts are sealed as they are found,
so the migration trusts them once (docs/edge.md). A schema 2 store gains the
table of retired enrolment references (schema 3). A schema newer than this
code is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import (
    ConfigError,
    DamagedUserRows,
    ReenrolmentNeeded,
    StoreError,
    TemplateIntegrityError,
    UnknownUser,
)
from .ledger import NONCE, Ledger, Sealer, ad, attempt_ad, user_state_ad, write_ledger
from .lockout import LockState

SCHEMA_VERSION = 3
TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE users (
    user_id TEXT PRIMARY KEY, model_sha256 TEXT NOT NULL, enrolled_at REAL NOT NULL,
    profile BLOB NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,
    next_seq INTEGER NOT NULL DEFAULT 0, tag BLOB);
CREATE TABLE templates (
    user_id TEXT NOT NULL, template_id TEXT NOT NULL, sealed BLOB NOT NULL,
    stream_mac BLOB NOT NULL, PRIMARY KEY (user_id, template_id));
CREATE TABLE raw_signatures (
    user_id TEXT NOT NULL, template_id TEXT NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (user_id, template_id));
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
DECISIONS = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at REAL NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_user ON decisions (user_id, id);
"""
ATTEMPTS = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, seq INTEGER NOT NULL,
    at REAL NOT NULL, accepted INTEGER NOT NULL, kind TEXT NOT NULL,
    stream_mac BLOB NOT NULL, sealed BLOB NOT NULL);
CREATE UNIQUE INDEX attempts_by_user ON attempts (user_id, seq);
"""

RETIRED = """
CREATE TABLE retired_templates (
    user_id TEXT NOT NULL, template_id TEXT NOT NULL, sealed BLOB NOT NULL,
    stream_mac BLOB NOT NULL, PRIMARY KEY (user_id, template_id));
"""
"""Schema 3: the enrolment's references an adaptation replaced, kept (sealed as they were) so
the drift from the enrolment can be measured and an undo can put them back (``store_baseline``)."""

Profile = dict[str, Any]
"""A user's profile: template ids and statistics (our own JSON, sealed)."""


@dataclass(frozen=True)
class Attempt:
    """One entry of a user's replay history (``kind`` 'verify', or 'enrol' for an
    enrolment signature: its trace and stream MAC, no embedding)."""

    stream_mac: bytes
    embedding: bytes
    accepted: bool
    trace: bytes | None = None
    kind: str = "verify"


@dataclass(frozen=True)
class History:
    """What a judge sees of a user, authenticated: lock state and attempts, newest first;
    in ``Store.judge`` also the user's profile (template ids, statistics) as it stands."""

    state: LockState
    attempts: list[Attempt]
    profile: Profile | None = None


@dataclass(frozen=True)
class Replacement:
    """Template adaptation (``edge.adaptation``): template ``index`` of the profile
    the judge saw gives way to ``template`` (packed as enrolment packs it), with
    the references' statistics recomputed; ``at`` counts toward the daily bound."""

    index: int
    template: bytes
    stream_mac: bytes
    stats: dict[str, Any]
    at: float
    score: float | None = None     # the accept's, for ``sigpad adaptations``


@dataclass(frozen=True)
class UserRow:
    """A user's row, by column (``checked_user_row``: as its tag vouches for it)."""

    model_sha256: str
    failures: int
    locked_until: float
    generation: int
    next_seq: int
    profile: bytes      # sealed
    tag: bytes | None   # over the rest (``edge.ledger.user_state_ad``)

    @property
    def lock_state(self) -> LockState:
        return LockState(self.failures, self.locked_until)


_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
ADAPTATIONS_KEPT = 100  # times of a user's last template replacements (the daily bound reads them)


@contextmanager
def rows_of(user: str) -> Iterator[None]:
    """Reading ``user``'s rows: what fails there is that user's damage
    (``DamagedUserRows``, with the way out), never the whole store's. A value
    no sigpad writes (a word where a number goes) is damage too, not a crash."""
    try:
        yield
    except (DamagedUserRows, UnknownUser, ReenrolmentNeeded):
        raise
    except (TemplateIntegrityError, ValueError, TypeError, OverflowError, KeyError) as exc:
        raise DamagedUserRows(user, str(exc)) from exc


def check_user_id(user: str) -> str:
    """A user id: 1-64 of letters, digits and ``._@+-``, starting with a letter or digit."""
    if not isinstance(user, str) or not _USER_ID.fullmatch(user):
        raise ConfigError(f"invalid user id {user!r}: use 1-64 letters, digits and ._@+-")
    return user


def seal_profile(sealer: Sealer, user: str, model_sha: str, profile: Profile) -> bytes:
    """A user's profile (template ids, statistics), sealed and bound to user and model."""
    return sealer.seal(json.dumps(profile).encode(), ad("profile", user, model_sha))


def open_profile(sealer: Sealer, user: str, model_sha: str, sealed: bytes) -> Profile:
    profile: Profile = json.loads(sealer.open(sealed, ad("profile", user, model_sha), f"profile of {user!r}"))
    return profile   # our own JSON, authenticated


def insert_template(db: sqlite3.Connection, sealer: Sealer, user: str, tid: str, template: bytes, mac: bytes,
                    model_sha: str) -> None:
    """One template row, sealed; the associated data binds user, template id and model."""
    db.execute("INSERT INTO templates VALUES (?,?,?,?)",
               (user, tid, sealer.seal(template, ad("template", user, tid, model_sha)), mac))


def pack_attempt(embedding: bytes, trace: bytes | None) -> bytes:
    """The sealed part of an attempt row: its int8 embedding and its trace (``edge.replay``)."""
    return struct.pack("<H", len(embedding)) + embedding + (trace or b"")


def unpack_attempt(plain: bytes) -> tuple[bytes, bytes | None]:
    (n,) = struct.unpack_from("<H", plain)
    return plain[2:2 + n], plain[2 + n:] or None


def statements(script: str) -> list[str]:
    # executescript() would commit first; these run in the caller's transaction.
    return [s for s in script.split(";") if s.strip()]


def prepare(db: sqlite3.Connection, sealer: Sealer, fresh: bool, where: str) -> None:
    """Create, check or migrate the store open in ``db`` (inside a transaction)."""
    tables = {r["name"] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if fresh and not tables:
        for s in statements(TABLES + ATTEMPTS + DECISIONS + RETIRED):
            db.execute(s)
        db.execute("INSERT INTO meta VALUES ('key_check', ?)", (sealer.seal(b"ok", ad("key")),))
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        write_ledger(db, sealer, Ledger())
        return
    if "meta" not in tables:
        raise StoreError(f"{where}: not a sigpad store (an SQLite file with tables "
                         f"{', '.join(sorted(tables)) or 'none'}); it was not changed")
    meta = {r["key"]: r["value"]
            for r in db.execute("SELECT key, value FROM meta WHERE key IN ('key_check', 'schema')")}
    _check_key(meta.get("key_check"), sealer, where)
    schema = str(meta.get("schema"))
    if schema not in ("1", "2", str(SCHEMA_VERSION)):
        raise StoreError(f"{where}: store schema {schema!r}; this sigpad reads schema {SCHEMA_VERSION} "
                         f"(and migrates 1 and 2): a newer sigpad wrote it, or it is damaged")
    if schema == "1":
        migrate_from_1(db, sealer)
    if schema in ("1", "2"):
        migrate_from_2(db)
        tables.add("retired_templates")
    missing = {"users", "templates", "raw_signatures", "attempts", "counters", "retired_templates"} - tables
    if missing:
        raise StoreError(f"{where}: damaged store: table(s) {', '.join(sorted(missing))} missing")
    for s in statements(DECISIONS):  # the operator's log: added to stores made before it
        db.execute(s)


def _check_key(value: object, sealer: Sealer, where: str) -> None:
    if value is None:
        raise StoreError(f"{where}: damaged store: its key check is missing")
    if not isinstance(value, bytes) or len(value) < NONCE + 16:
        raise StoreError(f"{where}: damaged store: its key check is not a sealed value "
                         f"({type(value).__name__})")
    if not sealer.opens(value, ad("key")):
        raise TemplateIntegrityError(
            f"{where}: the key does not open this store (wrong key file or credential)")


def adapted_profile_digest(sealer: Sealer, user: str, model_sha: str, sealed: bytes) -> str | None:
    """The digest of a user's sealed profile once adaptation has resealed it, else None.

    Until then the profile changes only with an enrolment, and the tag keeps
    the form it always had (older stores stay valid). After an adaptation the
    tag covers the profile too, so putting back an older profile (with the
    older templates it names) no longer passes: the older one either has no
    adaptations (the check then leaves the digest out, unlike the tag) or
    another digest."""
    if not open_profile(sealer, user, model_sha, sealed).get("adaptations"):
        return None
    return hashlib.sha256(bytes(sealed)).hexdigest()


def retag_user(db: sqlite3.Connection, sealer: Sealer, user: str) -> None:
    """Seal ``user``'s row as it now stands, with the attempt numbers kept."""
    row = _user_row(db, user)
    if row is None:
        raise UnknownUser(f"{user!r} is not enrolled")
    digest = adapted_profile_digest(sealer, user, row.model_sha256, row.profile)
    tag = sealer.tag(_state_ad(user, row, attempt_seqs(db, user), digest))
    db.execute("UPDATE users SET tag=? WHERE user_id=?", (tag, user))


def attempt_seqs(db: sqlite3.Connection, user: str) -> list[int]:
    return [r["seq"] for r in db.execute("SELECT seq FROM attempts WHERE user_id=?", (user,))]


def _state_ad(user: str, row: UserRow, seqs: Iterable[int], digest: str | None) -> bytes:
    return user_state_ad(user, row.model_sha256, row.failures, row.locked_until, row.generation, row.next_seq,
                         seqs, digest)


def migrate_from_1(db: sqlite3.Connection, sealer: Sealer) -> None:
    """Schema 1 -> 2: number and seal the attempts, tag the users, start the ledger."""
    for column in ("generation INTEGER NOT NULL DEFAULT 0", "next_seq INTEGER NOT NULL DEFAULT 0", "tag BLOB"):
        db.execute(f"ALTER TABLE users ADD COLUMN {column}")
    db.execute("ALTER TABLE attempts RENAME TO attempts_v1")
    db.execute("DROP INDEX IF EXISTS attempts_by_user")
    for s in statements(ATTEMPTS):
        db.execute(s)
    models = {r["user_id"]: r["model_sha256"] for r in db.execute("SELECT user_id, model_sha256 FROM users")}
    seqs: dict[str, int] = {}
    rows = db.execute("SELECT user_id, at, accepted, stream_mac, sealed FROM attempts_v1 "
                      "ORDER BY user_id, id").fetchall()
    for r in rows:
        user = r["user_id"]
        if user not in models:
            continue                     # a deleted user's leftovers
        seq = seqs[user] = seqs.get(user, -1) + 1
        _migrate_attempt(db, sealer, user, models[user], seq, r)
    db.execute("DROP TABLE attempts_v1")
    ledger = Ledger()
    ledger.generation = 1
    for user in models:
        ledger.users[user] = 1
        db.execute("UPDATE users SET generation=1, next_seq=? WHERE user_id=?", (seqs.get(user, -1) + 1, user))
        retag_user(db, sealer, user)
    write_ledger(db, sealer, ledger)
    db.execute("UPDATE meta SET value='2' WHERE key='schema'")


def migrate_from_2(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3: the table of retired enrolment references. Nothing else moves: a user
    adapted before it has lost the references replaced then (``store_baseline``)."""
    for s in statements(RETIRED):
        db.execute(s)
    db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))


def _migrate_attempt(db: sqlite3.Connection, sealer: Sealer, user: str, model_sha: str, seq: int,
                     r: sqlite3.Row) -> None:
    """A schema 1 attempt, numbered ``seq`` and sealed as schema 2 seals it."""
    at, accepted, mac = r["at"], r["accepted"], r["stream_mac"]
    emb = sealer.open(r["sealed"], ad("attempt", user, model_sha), f"attempt of {user!r} (schema 1)")
    sealed = sealer.seal(pack_attempt(emb, None), attempt_ad(user, model_sha, seq, at, accepted, "verify", mac))
    db.execute("INSERT INTO attempts (user_id, seq, at, accepted, kind, stream_mac, sealed) "
               "VALUES (?,?,?,?,?,?,?)", (user, seq, at, accepted, "verify", bytes(mac), sealed))


def prune_attempts(db: sqlite3.Connection, user: str, keep_accepted: int, keep_rejected: int) -> None:
    """Keep the enrolment entries, the last accepted and the last rejected attempts."""
    for accepted, keep in ((1, keep_accepted), (0, keep_rejected)):
        db.execute("DELETE FROM attempts WHERE user_id=? AND kind='verify' AND accepted=? AND seq NOT IN "
                   "(SELECT seq FROM attempts WHERE user_id=? AND kind='verify' AND accepted=? "
                   "ORDER BY seq DESC LIMIT ?)", (user, accepted, user, accepted, keep))


def _user_row(db: sqlite3.Connection, user: str) -> UserRow | None:
    """``user``'s row as it stands, unchecked (None: no such user)."""
    r = db.execute("SELECT model_sha256, failures, locked_until, generation, next_seq, "
                   "CAST(profile AS BLOB) AS profile, tag FROM users WHERE user_id=?", (user,)).fetchone()
    if r is None:
        return None
    return UserRow(r["model_sha256"], r["failures"], r["locked_until"], r["generation"], r["next_seq"],
                   r["profile"], r["tag"])


def checked_user_row(db: sqlite3.Connection, sealer: Sealer, user: str, ledger: Ledger,
                     seqs: list[int] | None = None) -> UserRow | None:
    """``user``'s row, checked against its tag and the ledger; None if unknown."""
    row = _user_row(db, user)
    ledger.check_user(user, None if row is None else row.generation)
    if row is None:
        return None
    digest = adapted_profile_digest(sealer, user, row.model_sha256, row.profile)
    sealer.check(row.tag, _state_ad(user, row, attempt_seqs(db, user) if seqs is None else seqs, digest),
                 f"the lockout and attempt record of {user!r}")
    return row


def read_history(db: sqlite3.Connection, sealer: Sealer, user: str, ledger: Ledger) -> tuple[UserRow, History]:
    """``user``'s checked row and authenticated history; ``UnknownUser`` if none."""
    rows = db.execute("SELECT seq, at, accepted, kind, CAST(stream_mac AS BLOB) AS stream_mac, "
                      "CAST(sealed AS BLOB) AS sealed FROM attempts WHERE user_id=? ORDER BY seq DESC",
                      (user,)).fetchall()
    row = checked_user_row(db, sealer, user, ledger, [r["seq"] for r in rows])
    if row is None:
        raise UnknownUser(f"{user!r} is not enrolled")
    attempts = []
    for r in rows:
        seq, at, accepted, kind, mac = r["seq"], r["at"], r["accepted"], r["kind"], r["stream_mac"]
        plain = sealer.open(r["sealed"], attempt_ad(user, row.model_sha256, seq, at, accepted, kind, mac),
                            f"attempt {seq} of {user!r}")
        embedding, trace = unpack_attempt(plain)
        attempts.append(Attempt(bytes(mac), embedding, bool(accepted), trace, kind))
    return row, History(row.lock_state, attempts)
