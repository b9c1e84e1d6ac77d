"""The fleet inside ``sigpad serve``: a sync thread, and the service's own work queued.

A kiosk that joined a fleet (``sigpad fleet join`` left ``fleet.json`` beside
its store) runs, in the service, one thread of its own (``sigpad-fleet``)
that syncs every ``[fleet] sync_s`` seconds, and at once after the service
queued something: ``FleetKiosk.sync``, as ``sigpad fleet sync`` does, on its
own connection to ``fleet.db``. A decision never waits for it: the service's
decisions, enrolments, deletions and unlocks are queued in the outbox (one
short SQLite transaction, ``FleetKiosk.queue_*`` as the ``sigpad fleet``
commands queue theirs) on the thread that made them, and sent by the sync.

The link going up or down is one line in the service's log (journald
priorities, ``logs``), once per change. While the link is down the service
locks after ``[fleet] offline_lockout_after`` failures (``offline_lockout``).
Without nats-py, or not joined, ``start`` returns None and the service runs
as a single kiosk.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_bridge.signature import Signature
from firmware_bridge.svc2004 import format_signature

from ...decision import Decision
from ...errors import FleetError
from ...lockout import LockoutPolicy
from ...model import current_model_shas
from ...store import Store
from .membership import joined, link_module, need_enrol_role, offline_lockout, try_sync
from .state import FleetState
from .summary import local_summary
from .sync import FleetKiosk

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("sigpad.service")
LINK_TIMEOUT_S = 2.0


def fleet_dir_of(cfg: Config) -> Path:
    """Where ``sigpad fleet join`` leaves a kiosk's fleet files: ``fleet/`` beside the service's store."""
    return cfg.store_path(True).parent / "fleet"


def start(cfg: Config, store: Store) -> ServiceFleet | None:
    """The fleet side of the service, its sync thread running; None if not a member (or no nats-py)."""
    directory = fleet_dir_of(cfg)
    if not (directory / "fleet.json").exists():
        return None
    try:
        link_module()
        fleet = ServiceFleet(directory, cfg, store)
    except FleetError as exc:
        log.error("fleet: %s; serving as a single kiosk", exc)
        return None
    fleet.start()
    return fleet


class ServiceFleet:
    """The service's fleet membership: the sync thread and the queueing of the service's work."""

    def __init__(self, directory: Path, cfg: Config, store: Store):
        self.directory, self.cfg, self.store = directory, cfg, store
        self.conf, self.keys = joined(directory)
        self.link_up: bool | None = None       # None: no sync tried yet
        self.hub_revision: int | None = None
        self.syncs = self.tries = 0
        self._wake, self._stop = threading.Event(), threading.Event()
        self._args = argparse.Namespace(link_timeout=LINK_TIMEOUT_S)
        self._thread = threading.Thread(target=self._run, name="sigpad-fleet", daemon=True)

    def start(self) -> None:
        log.info("fleet: kiosk %s of %s, syncing every %g s", self.conf["kiosk"], self.conf["url"],
                 self.cfg.fleet_sync_s)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(LINK_TIMEOUT_S * 10)

    def _kiosk(self, state: FleetState) -> FleetKiosk:
        return FleetKiosk(self.conf["kiosk"], self.store, state, self.keys, self.cfg.lockout,
                          self.cfg.replay_history, self.conf)

    # --- the sync thread ---------------------------------------------------------------

    def _run(self) -> None:
        state = FleetState(self.directory / "fleet.db")
        try:
            kiosk = self._kiosk(state)
            while not self._stop.is_set():
                self._wake.clear()
                self.sync_once(kiosk)
                self._wake.wait(self.cfg.fleet_sync_s)
        finally:
            state.close()

    def sync_once(self, kiosk: FleetKiosk) -> None:
        """One sync (``try_sync``, as ``sigpad fleet sync``); a failure of ours is logged, never raised."""
        self.tries += 1
        try:
            report = try_sync(self._args, kiosk, link_log=log)
        except Exception:                       # the sync must not die: the next period tries again
            log.exception("fleet sync failed")
            return
        self.link_up = report is not None
        if report is not None:
            self.syncs += 1
            self.hub_revision = int(kiosk.state.get("revision", "0") or 0)

    # --- the service's work, queued ----------------------------------------------------

    @contextmanager
    def _queue(self) -> Iterator[FleetKiosk]:
        state = FleetState(self.directory / "fleet.db")   # this thread's own connection
        try:
            yield self._kiosk(state)
        finally:
            state.close()
            self._wake.set()                    # sent at the next turn of the sync thread

    def decided(self, decision: Decision) -> None:
        with self._queue() as kiosk:
            kiosk.queue_decision(decision)

    def may_change(self, what: str) -> None:
        """``FleetError`` before an enrolment or deletion at a kiosk without the enrolment role."""
        need_enrol_role(self.conf, what)

    def enrolled(self, user: str, signatures: Sequence[Signature]) -> None:
        """``signatures``: the enrolment's, sealed in the record (SVC2004 text) for ``rederive``."""
        with self._queue() as kiosk:
            kiosk.queue_enrolment(user, [format_signature(s) for s in signatures])

    def deleted(self, user: str) -> None:
        with self._queue() as kiosk:
            kiosk.queue_deletion(user)

    def unlocked(self, user: str) -> None:
        with self._queue() as kiosk:
            kiosk.state.audit("unlock", user, kiosk.kiosk)

    def lockout(self, policy: LockoutPolicy) -> LockoutPolicy:
        """The lockout for the next decision: tighter while the hub is away."""
        return offline_lockout(policy, self.cfg.fleet_offline_lockout_after) if self.link_up is False else policy

    # --- /v1/fleet ---------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Blocking (reads fleet.db): connected?, lag, outbox, last sync, model."""
        out = local_summary(self.directory) or {}
        applied = out.get("revision", 0)
        last = out.get("last_sync")
        out.update({"connected": self.link_up, "sync_s": self.cfg.fleet_sync_s,
                    "syncs": self.syncs, "tries": self.tries, "hub_revision": self.hub_revision,
                    "lag_revisions": None if self.hub_revision is None else max(0, self.hub_revision - applied),
                    "lag_s": round(time.time() - last, 1) if last else None,
                    "model": sorted(current_model_shas(self.cfg))})
        return out
