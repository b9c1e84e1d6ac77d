"""The audit stream: every event once, even when a kiosk dies between the hub's ack and its outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fleet_harness import Kiosk, creds_of, open_link, signatures, stream_ids

from edge.app.fleet.state import FleetState
from edge.app.fleet.subjects import audit_subject

pytestmark = [pytest.mark.slow, pytest.mark.data]
ALL = ["enrol"]


def publish_without_forgetting(kiosk: Kiosk) -> int:
    """What a kiosk killed right after the hub's ack leaves: the rows sent, still in its outbox."""
    state = FleetState(kiosk.store.parent / "fleet" / "fleet.db")
    rows = state.pending()
    state.close()

    async def send() -> None:
        link = await open_link(creds_of(kiosk))
        try:
            for row in rows:
                await link.publish_audit(audit_subject(kiosk.name, row.user), row.payload, row.msg_id)
        finally:
            await link.close()
    asyncio.run(send())
    return len(rows)


def test_every_event_once_with_its_kiosk_and_outcome(hub_for, tmp_path: Path, task2):
    hub = hub_for({"a": ALL, "b": ALL})
    a, b = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    assert b.verify("alice", task2 / "U1S9.TXT")["accepted"]
    hub.stop()
    assert not a.verify("alice", task2 / "U1S21.TXT", link_timeout=0.5)["accepted"]   # queued offline
    hub.start()
    sent = publish_without_forgetting(a)         # the hub has them; a "crashed" before deleting its rows
    assert sent == 1
    assert a.run("sync")["pushed"] == 1           # re-sent with the same message id: de-duplicated
    events = b.run("history", "alice")["events"]
    assert [(e["event"], e["kiosk"], e.get("reason")) for e in events] == [
        ("enrolment", "a", None), ("decision", "b", "match"), ("decision", "a", "no-match")]
    ids = stream_ids(b)
    assert len(ids) == len(set(ids)) == 3
    history = b.cli("history", "alice")
    assert history.returncode == 0 and history.stdout.count("decision") == 2
