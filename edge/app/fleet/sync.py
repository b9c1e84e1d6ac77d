"""One kiosk's sync: push the outbox, then pull the fleet's templates and decisions.

Push first, so that conflicts are settled by the hub's order before this
kiosk applies anything: an enrolment whose compare-and-set fails lost to one
that reached the hub first; the kiosk drops it (the pull then applies the
winner's record) and audits the loss. Pulling applies KV changes in revision
order and each other kiosk's judged decisions to the local lockout counters
(``apply_attempt``), advancing a cursor after each, so a kill -9 at any point
re-applies at most the message it was on (every apply is idempotent or
guarded by the cursor in the same order).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...decision import Decision
from ...errors import FleetError, UnknownUser
from ...lockout import LockoutPolicy
from ...store import History, Judged, Scored, Store
from . import records
from .sealing import FleetKeys, open_sealed, seal
from .state import AUDIT, DELETE, PUT, FleetState, Pending
from .subjects import AUDIT_PREFIX, AUDIT_STREAM, KV_PREFIX, KV_STREAM, Seen, audit_subject, key_user

if TYPE_CHECKING:
    from .link import Link

log = logging.getLogger("sigpad.fleet")
JUDGED = ("match", "no-match", "replay")   # decisions that count towards a lockout (edge.decision.Reason)


@dataclass
class SyncReport:
    pushed: int = 0
    lost: list[str] = field(default_factory=list)
    applied: int = 0
    deleted: int = 0
    unreadable: list[str] = field(default_factory=list)
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FleetKiosk:
    """The fleet side of one kiosk: its id, roles, store, fleet state and key."""

    kiosk: str
    store: Store
    state: FleetState
    keys: FleetKeys
    lockout: LockoutPolicy
    keep_accepted: int = 10
    link_conf: dict[str, Any] = field(default_factory=dict)   # fleet.json: url, kiosk user, roles

    # --- what this kiosk did, for the fleet ---------------------------------------------

    def queue_enrolment(self, user: str, signatures: list[str] | None = None) -> str:
        """The user's record as the store now holds it, sealed, queued as a compare-and-set on
        the revision this kiosk last saw; with its audit event. Its enrolment id.
        ``signatures`` (SVC2004 text): the enrolment's, sealed in the record so that a new
        model can re-derive the templates (``rederive``); default: those the store kept."""
        enrol_id = uuid.uuid4().hex
        record = records.export(self.store, user, self.kiosk, enrol_id)
        if signatures is not None:
            record["signatures"] = signatures
        base_rev, _ = self.state.known(user)
        self.state.enqueue(PUT, user, seal(self.keys, user, record["model_sha"], record), base_rev, enrol_id)
        self.state.set_known(user, base_rev, enrol_id)
        self.state.audit("enrolment", user, self.kiosk, enrol_id=enrol_id, model_sha=record["model_sha"])
        return enrol_id

    def queue_decision(self, decision: Decision) -> None:
        """A decision for the audit, and for the other kiosks' lockout counts (no signature data)."""
        self.state.audit("decision", decision.user, self.kiosk, accepted=decision.accepted,
                         reason=decision.reason, score=decision.score)
        if decision.adapted:     # a reference replaced at this kiosk (template adaptation, when on)
            self.state.audit("adaptation", decision.user, self.kiosk, adapted=decision.adapted)

    def queue_deletion(self, user: str) -> None:
        base_rev, _ = self.state.known(user)
        self.state.enqueue(DELETE, user, b"", base_rev)
        self.state.audit("deletion", user, self.kiosk)

    # --- sync -------------------------------------------------------------------------

    async def sync(self, link: Link) -> SyncReport:
        report = SyncReport()
        await self.push(link, report)
        await self.pull_templates(link, report)
        await self.pull_attempts(link, report)
        self.state.put("last_sync", time.time())
        self.state.put("revision", await link.last_seq(KV_STREAM))
        return report

    # --- push -------------------------------------------------------------------------

    async def push(self, link: Link, report: SyncReport) -> None:
        """Every outbox row in order, each deleted once the hub acknowledged it; rows
        queued meanwhile (a lost enrolment's audit event) go out in the same push."""
        while rows := self.state.pending():
            await self._push_rows(link, rows, report)

    async def _push_rows(self, link: Link, rows: list[Pending], report: SyncReport) -> None:
        for row in rows:
            if row.kind == AUDIT:
                await link.publish_audit(audit_subject(self.kiosk, row.user), row.payload, row.msg_id)
            else:
                await self._push_template(link, row, report)
            self.state.done(row.row)
            report.pushed += 1

    async def _push_template(self, link: Link, row: Pending, report: SyncReport) -> None:
        if row.kind == PUT:
            rev = await link.put(row.user, row.payload, row.base_rev)
        else:
            rev = await link.delete(row.user, row.base_rev)
        if rev is not None:
            self.state.set_known(row.user, rev, row.enrol_id)
            return
        # Read the bucket again from what this kiosk had seen: the winner is applied even if
        # a pull passed it over while this change was still queued.
        self.state.advance("kv", min(self.state.cursor("kv"), row.base_rev))
        what = "enrolment-lost" if row.kind == PUT else "deletion-lost"
        report.lost.append(row.user)
        log.warning("%s of %s: another kiosk's change reached the hub first", what, row.user)
        self.state.audit(what, row.user, self.kiosk, enrol_id=row.enrol_id, base_rev=row.base_rev)

    # --- pull -------------------------------------------------------------------------

    async def pull_templates(self, link: Link, report: SyncReport) -> None:
        async for seen in link.read(KV_STREAM, KV_PREFIX + ">", self.state.cursor("kv")):
            self._apply_template(seen, report)
            self.state.advance("kv", seen.seq)

    def _apply_template(self, seen: Seen, report: SyncReport) -> None:
        user = key_user(seen.subject.removeprefix(KV_PREFIX))
        revision, enrol_id = self.state.known(user)
        if seen.seq <= revision or self.state.pending_put(user):
            return                           # held already, or ours is still on its way
        if seen.op in ("DEL", "PURGE"):
            self.store.delete(user)
            self.state.set_known(user, seen.seq, "")
            report.deleted += 1
            return
        try:
            record = open_sealed(self.keys, user, seen.data)
        except FleetError as exc:            # another key, tampered: said, skipped, never half-applied
            log.warning("%s", exc)
            report.unreadable.append(user)
            return
        if record.get("enrol_id") != enrol_id:
            records.apply(self.store, record)
            report.applied += 1
        self.state.set_known(user, seen.seq, str(record.get("enrol_id", "")))

    async def pull_attempts(self, link: Link, report: SyncReport) -> None:
        async for seen in link.read(AUDIT_STREAM, f"{AUDIT_PREFIX}.>", self.state.cursor("audit")):
            self._apply_event(seen)
            self.state.advance("audit", seen.seq)
            report.attempts += 1

    def _apply_event(self, seen: Seen) -> None:
        # Who sent it and for whom: from the subject, which the hub only lets a kiosk publish
        # as itself (hub.conf), never from what the message says of itself.
        try:
            _, _, kiosk, user_hex = seen.subject.split(".", 3)
            if kiosk == self.kiosk:
                return                       # counted here when it happened
            user = bytes.fromhex(user_hex).decode() if user_hex != "-" else ""
            event = json.loads(seen.data)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            log.warning("audit message %d is not an event; skipped", seen.seq)
            return
        if kind == "decision" and event.get("reason") in JUDGED:
            apply_attempt(self.store, self.lockout, user, bool(event.get("accepted")), float(event["at"]),
                          self.keep_accepted)
        elif kind == "unlock":
            self.store.unlock(user)


def apply_attempt(store: Store, policy: LockoutPolicy, user: str, accepted: bool, at: float,
                  keep_accepted: int) -> None:
    """Another kiosk's judged attempt, counted in the local lock state as if judged here at ``at``
    (a failure while the user was locked then is not counted, as locally)."""
    def judge(history: History) -> Judged:
        if not accepted and policy.remaining_s(history.state, at) > 0:
            return Judged(None, None, Scored(False))
        return Judged(None, policy.update(history.state, accepted, at), Scored(accepted))
    if store.enrolled_model(user) is None:
        return                               # not enrolled here (yet): nothing to lock (and no write)
    try:
        store.judge(user, judge, keep_accepted)
    except UnknownUser:
        pass                                 # deleted meanwhile
