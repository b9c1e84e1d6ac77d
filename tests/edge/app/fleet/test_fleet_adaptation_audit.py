"""An accept that adapted a reference is audited as an adaptation too (issue #21's audit list);
one that did not adapt is a decision only. A real fleet.db; queueing needs no hub."""

from __future__ import annotations

import dataclasses
import json

from edge.app.fleet.state import FleetState
from edge.app.fleet.sync import FleetKiosk
from edge.decision import Decision
from edge.lockout import LockoutPolicy


def test_an_adapting_accept_is_audited_as_an_adaptation(tmp_path):
    state = FleetState(tmp_path / "fleet.db")
    try:
        # queueing uses only the kiosk's name and its fleet state: no store, key or hub
        kiosk = FleetKiosk("k1", store=None, state=state, keys=None, lockout=LockoutPolicy())
        plain = Decision("alice", True, 0.9, -1.2, "match", 1.0)
        kiosk.queue_decision(plain)
        kiosk.queue_decision(dataclasses.replace(plain, adapted="reference 2 of 5 replaced"))
        events = [json.loads(p.payload) for p in state.pending()]
        assert [(e["event"], e["user"], e.get("adapted")) for e in events] == [
            ("decision", "alice", None), ("decision", "alice", None),
            ("adaptation", "alice", "reference 2 of 5 replaced")]
    finally:
        state.close()
