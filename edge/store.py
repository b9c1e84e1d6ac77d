"""The template store: one SQLite file (WAL), every template sealed with AES-GCM.

Rows and what protects them:

* ``templates`` - one sealed int8 embedding per enrolment signature; the
  associated data binds user, template id and model sha256, so a row moved,
  renamed or read under another model fails authentication.
* ``retired_templates`` (schema 3) - the enrolment's references an
  adaptation replaced, sealed as they were, listed in the sealed profile
  (``edge.store_baseline``): the drift bound reads them, an undo puts them back.
* ``users`` - the model enrolled with (another means "re-enrolment needed"),
  a sealed profile listing the template ids (a template row deleted or added
  is detected) and the lockout counters, tagged under the key with the
  attempt numbers kept (``edge.ledger``).
* ``attempts`` - the replay history: enrolment shapes (``edge.replay``; timed
  traces in rows from before) and the attempts kept
  (accepted up to ``replay_history``, rejected up to ``REJECTED_KEPT``), each
  sealed with its number, time, verdict and stream MAC.
* ``meta`` - schema version, a sealed key check (a wrong key is reported as
  such) and the sealed ledger; ``<store>.gen`` holds the newest generation
  with an HMAC under the key.
* ``decisions`` - each user's last decisions for the operator (``sigpad
  history``): time in clear, reason, score and pad sealed per entry. Not
  part of the authenticated state: it informs, it decides nothing.

Deleting, editing or restoring rows from an older copy - or the whole file
while the anchor is newer - is refused as tampering, never read as a clean
state. What fails in one user's rows is that user's alone (``rows_of``:
``DamagedUserRows``, naming the way out: re-enrol them, or restore). A file
that is empty, truncated or not a sigpad store is reported as damaged and
left as it is (``store_schema``). Every change is one ``BEGIN IMMEDIATE``
transaction (a crash mid-enrolment keeps the previous one; two processes
wait for each other), and a judged attempt - lockout check, replay history,
record, new counters - is one such transaction (``judge``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from .errors import (
    AlreadyEnrolled,
    ReenrolmentNeeded,
    TemplateIntegrityError,
    UnknownUser,
)
from .ledger import ad, attempt_ad
from .lockout import LockState
from .store_baseline import (
    ADAPTATION_KEYS,
    adaptation_records,
    enrolment_ids,
    replace_template,
    restore_baseline,
    retired_ids,
)
from .store_file import StoreFile
from .store_schema import (
    SCHEMA_VERSION,
    Attempt,
    History,
    Profile,
    Replacement,
    check_user_id,
    checked_user_row,
    insert_template,
    open_profile,
    pack_attempt,
    prune_attempts,
    read_history,
    retag_user,
    rows_of,
    seal_profile,
)
from .verdicts import Judged, LockedOut, Replayed, Scored, Verdict

__all__ = [
    "REJECTED_KEPT",
    "SCHEMA_VERSION",
    "Attempt",
    "Enrolled",
    "History",
    "Judged",
    "LockedOut",
    "Profile",
    "Replacement",
    "Replayed",
    "Scored",
    "Store",
    "UserInfo",
    "Verdict",
    "check_user_id",
]

REJECTED_KEPT = 50
"""Rejected attempts kept per user (accepted ones: ``Settings.replay_history``)."""
DECISIONS_KEPT = 100  # decisions kept per user for `sigpad history`


@dataclass(frozen=True)
class Enrolled:
    """What verification needs of one user, decrypted."""

    templates: list[bytes]
    stream_macs: list[bytes]
    profile: Profile
    baseline: list[bytes] = dataclasses.field(default_factory=list)  # the enrolment's references kept


@dataclass(frozen=True)
class UserInfo:
    user: str
    templates: int
    model_sha256: str
    enrolled_at: float
    locked_until: float

    def to_dict(self, current_sha: str | Collection[str] | None = None) -> dict[str, Any]:
        """``current_sha``: the active model's sha256, or those of several (one per pad kind)."""
        d: dict[str, Any] = {"user": self.user, "templates": self.templates, "model_sha256": self.model_sha256,
             "enrolled_at": self.enrolled_at, "locked_until": self.locked_until}
        if current_sha is not None:
            current = {current_sha} if isinstance(current_sha, str) else set(current_sha)
            d["needs_reenrolment"] = self.model_sha256 not in current
        return d


class Store(StoreFile):
    """An open template store. Safe to share between threads of one process."""

    # --- enrolment --------------------------------------------------------------

    def save_enrolment(self, user: str, model_sha: str, templates: list[bytes],
                       stream_macs: list[bytes], stats: dict[str, Any], raw: list[str] | None = None,
                       replace: bool = False, traces: list[bytes | None] | None = None,
                       binding: dict[str, Any] | None = None) -> None:
        """Store a user's enrolment in one transaction (replacing an old one if asked).

        ``traces``: the enrolment signatures' traces (``edge.replay``), kept in
        the user's replay history; ``binding``: the model's manifest as it was
        enrolled with (``edge.manifest.binding``), kept in the ledger.
        """
        check_user_id(user)
        ids = [os.urandom(8).hex() for _ in templates]
        # An enrolment starts again (a fleet record may carry another kiosk's adaptations).
        enrolled_stats = {k: v for k, v in stats.items() if k not in ADAPTATION_KEYS}
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            exists = db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone() is not None
            if exists and not replace:
                raise AlreadyEnrolled(f"{user!r} is already enrolled; re-enrol with --replace")
            self._delete_rows(db, user)
            generation = ledger.advance(user)
            if binding is not None:
                ledger.models[model_sha] = binding
            db.execute("INSERT INTO users (user_id, model_sha256, enrolled_at, profile, generation) "
                       "VALUES (?,?,?,?,?)", (user, model_sha, time.time(),
                                              seal_profile(self._sealer, user, model_sha,
                                                           {"template_ids": ids, **enrolled_stats}),
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

    def _insert_template(self, db: sqlite3.Connection, user: str, tid: str, template: bytes, mac: bytes,
                         model_sha: str) -> None:
        insert_template(db, self._sealer, user, tid, template, mac, model_sha)  # adaptation seals the same way

    def _insert_attempt(self, db: sqlite3.Connection, user: str, model_sha: str, seq: int, a: Attempt) -> None:
        at = time.time()
        sealed = self._sealer.seal(pack_attempt(a.embedding, a.trace),
                                   attempt_ad(user, model_sha, seq, at, a.accepted, a.kind, a.stream_mac))
        db.execute("INSERT INTO attempts (user_id, seq, at, accepted, kind, stream_mac, sealed) "
                   "VALUES (?,?,?,?,?,?,?)", (user, seq, at, int(a.accepted), a.kind, a.stream_mac, sealed))

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, user: str) -> None:
        for table in ("users", "templates", "raw_signatures", "attempts", "retired_templates"):
            db.execute(f"DELETE FROM {table} WHERE user_id=?", (user,))

    def load(self, user: str, model_sha: str) -> Enrolled:
        """A user's templates, decrypted and checked; raises the store errors.
        One snapshot: a re-enrolment committed between two reads is no tampering."""
        with self._tx("DEFERRED") as db:
            found = db.execute("SELECT model_sha256, CAST(profile AS BLOB) AS profile FROM users WHERE user_id=?",
                               (user,)).fetchone()
            rows, retired = (db.execute(f"SELECT template_id, CAST(sealed AS BLOB) AS sealed, CAST(stream_mac AS "
                                        f"BLOB) AS stream_mac FROM {table} WHERE user_id=?", (user,)).fetchall()
                             for table in ("templates", "retired_templates"))
        if found is None:
            raise UnknownUser(f"{user!r} is not enrolled")
        with rows_of(user):
            return self._opened(user, model_sha, found, rows, retired)

    def _opened(self, user: str, model_sha: str, found: sqlite3.Row, rows: list[sqlite3.Row],
                retired: list[sqlite3.Row]) -> Enrolled:
        """The user's row and template rows, opened and checked."""
        enrolled_sha = found["model_sha256"]
        if enrolled_sha != model_sha:
            raise ReenrolmentNeeded(f"{user!r} was enrolled with model {enrolled_sha[:12]}..., "
                                    f"this is {model_sha[:12]}...: re-enrolment needed")
        profile = open_profile(self._sealer, user, model_sha, found["profile"])
        by_id = {r["template_id"]: r for r in rows}
        ids = profile["template_ids"]
        if sorted(by_id) != sorted(ids):
            raise TemplateIntegrityError(f"templates of {user!r} were added or removed "
                                         f"({len(by_id)} rows, {len(ids)} enrolled)")
        if sorted(r["template_id"] for r in retired) != sorted(retired_ids(profile)):
            raise TemplateIntegrityError(f"the enrolment references of {user!r} kept after adaptation were "
                                         "added or removed")
        by_id.update({r["template_id"]: r for r in retired})

        def opened(t: str) -> bytes:
            return self._sealer.open(by_id[t]["sealed"], ad("template", user, t, model_sha),
                                     f"template {t} of {user!r}")
        templates = {t: opened(t) for t in dict.fromkeys(ids + enrolment_ids(profile))}
        return Enrolled([templates[t] for t in ids], [bytes(by_id[t]["stream_mac"]) for t in ids], profile,
                        [templates[t] for t in enrolment_ids(profile)])

    def raw_signatures(self, user: str) -> list[str]:
        rows = self._query("SELECT template_id, CAST(sealed AS BLOB) AS sealed FROM raw_signatures "
                           "WHERE user_id=?", (user,))
        return [self._sealer.open(r["sealed"], ad("raw", user, r["template_id"]), f"raw signature of {user!r}").decode()
                for r in rows]

    def model_binding(self, model_sha: str) -> dict[str, Any] | None:
        """The manifest ``model_sha`` was last enrolled with (None: no enrolment with it yet)."""
        with self._tx("DEFERRED") as db:
            return self._ledger(db).models.get(model_sha)

    # --- adaptations, for the operator -------------------------------------------------

    def adaptations(self, user: str) -> list[dict[str, Any]]:
        """``user``'s adaptations, oldest first (``store_baseline.adaptation_records``)."""
        with self._tx("DEFERRED") as db:
            row = db.execute("SELECT model_sha256, CAST(profile AS BLOB) AS profile FROM users WHERE user_id=?",
                             (user,)).fetchone()
        if row is None:
            raise UnknownUser(f"{user!r} is not enrolled")
        with rows_of(user):
            return adaptation_records(open_profile(self._sealer, user, row["model_sha256"], row["profile"]))

    def undo_adaptations(self, user: str, at: float) -> int:
        """Put ``user``'s enrolment references back, sealed like a judgement; how many came back."""
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            with rows_of(user):
                row = checked_user_row(db, self._sealer, user, ledger)
                if row is None:
                    raise UnknownUser(f"{user!r} is not enrolled")
                profile = open_profile(self._sealer, user, row.model_sha256, row.profile)
                restored = restore_baseline(db, self._sealer, user, row.model_sha256, profile, at)
            db.execute("UPDATE users SET generation=? WHERE user_id=?", (ledger.advance(user), user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)
        return restored

    # --- users ------------------------------------------------------------------

    def users(self) -> list[UserInfo]:
        rows = self._query(
            "SELECT u.user_id, COUNT(t.template_id) AS templates, u.model_sha256, u.enrolled_at, u.locked_until "
            "FROM users u LEFT JOIN templates t ON t.user_id = u.user_id "
            "GROUP BY u.user_id ORDER BY u.user_id")
        return [UserInfo(r["user_id"], r["templates"], r["model_sha256"], r["enrolled_at"], r["locked_until"])
                for r in rows]

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
            ledger = self._ledger(db)
            with rows_of(user):
                row = checked_user_row(db, self._sealer, user, ledger)
        return LockState() if row is None else row.lock_state

    def history(self, user: str) -> History:
        """The user's lock state and replay history, authenticated; ``UnknownUser`` if none."""
        with self._tx("DEFERRED") as db:
            ledger = self._ledger(db)
            with rows_of(user):
                return read_history(db, self._sealer, user, ledger)[1]

    def judge(self, user: str, judge: Callable[[History], Judged], keep_accepted: int) -> Verdict:
        """Judge one attempt in one transaction: ``judge(history)`` sees the user's
        authenticated state, and what it returns is recorded before anyone else is
        judged (so parallel attempts cannot all pass a lockout check). Returns
        ``judge``'s verdict. Committed with FULL sync, like every change the anchor
        follows: pulling the plug must not erase a failure (nor leave the anchor
        ahead of the file)."""
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            with rows_of(user):
                row, history = read_history(db, self._sealer, user, ledger)
                profile = open_profile(self._sealer, user, row.model_sha256, row.profile)
            judged = judge(dataclasses.replace(history, profile=profile))
            if judged.attempt is None and judged.state is None:
                return judged.verdict
            sha, next_seq = row.model_sha256, row.next_seq
            state = judged.state or history.state
            if judged.attempt is not None:
                self._insert_attempt(db, user, sha, next_seq, judged.attempt)
                next_seq += 1
                prune_attempts(db, user, keep_accepted, REJECTED_KEPT)
            if judged.replacement is not None:
                replace_template(db, self._sealer, user, sha, profile, judged.replacement)
            db.execute("UPDATE users SET failures=?, locked_until=?, generation=?, next_seq=? WHERE user_id=?",
                       (state.failures, state.locked_until, ledger.advance(user), next_seq, user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)
            return judged.verdict

    def unlock(self, user: str) -> LockState | None:
        """Clear a user's failures and lock, sealed like a judgement; the state it had
        (None: no such user)."""
        with self._durable(), self._tx() as db:
            ledger = self._ledger(db)
            with rows_of(user):
                row = checked_user_row(db, self._sealer, user, ledger)
            if row is None:
                return None
            db.execute("UPDATE users SET failures=0, locked_until=0, generation=? WHERE user_id=?",
                       (ledger.advance(user), user))
            retag_user(db, self._sealer, user)
            self._commit_ledger(db, ledger)
        return row.lock_state

    def enrolled_model(self, user: str) -> str | None:
        """The sha256 of the model the user was enrolled with (None: not enrolled)."""
        rows = self._query("SELECT model_sha256 FROM users WHERE user_id=?", (user,))
        return str(rows[0]["model_sha256"]) if rows else None

    # --- decisions, for the operator ------------------------------------------------------

    def log_decision(self, user: str, at: float, entry: dict[str, Any], keep: int = DECISIONS_KEPT) -> None:
        """Keep ``entry`` (JSON values) in an enrolled user's decision log; unknown users have none."""
        sealed = self._sealer.seal(json.dumps(entry).encode(), ad("decision", user))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE user_id=?", (user,)).fetchone() is None:
                return
            db.execute("INSERT INTO decisions (user_id, at, sealed) VALUES (?,?,?)", (user, at, sealed))
            db.execute("DELETE FROM decisions WHERE user_id=? AND id NOT IN (SELECT id FROM decisions "
                       "WHERE user_id=? ORDER BY id DESC LIMIT ?)", (user, user, keep))

    def decision_log(self, user: str, limit: int = 20) -> list[dict[str, Any]]:
        """The user's last ``limit`` decisions, newest first, each with its time ``at``."""
        rows = self._query("SELECT at, CAST(sealed AS BLOB) AS sealed FROM decisions WHERE user_id=? "
                           "ORDER BY id DESC LIMIT ?", (user, limit))
        return [{"at": r["at"], **json.loads(self._sealer.open(r["sealed"], ad("decision", user),
                                                               f"decisions of {user!r}"))}
                for r in rows]

    # --- counters ---------------------------------------------------------------------

    def count(self, name: str, by: int = 1) -> None:
        """Statistics (enrolments, failures to enrol): not part of the sealed state."""
        with self._tx() as db:
            db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                       "SET value = value + excluded.value", (name, by))

    def counters(self) -> dict[str, int]:
        return {r["name"]: r["value"] for r in self._query("SELECT name, value FROM counters ORDER BY name")}
