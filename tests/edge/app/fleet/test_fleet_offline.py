"""Enrolment with the hub away: the outbox keeps it, the hub's revision order settles conflicts."""

from __future__ import annotations

import pytest
from fleet_harness import Kiosk, signatures, stored

pytestmark = [pytest.mark.slow, pytest.mark.data]
ALL = ["enrol"]
OFFLINE = 0.5   # seconds a kiosk waits for the hub before working alone


def test_enrol_offline_verifies_at_once_and_reaches_the_fleet_when_the_link_returns(hub_for, tmp_path, task2):
    hub = hub_for({"a": ALL, "b": ALL})
    a, b = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    hub.stop()
    enrolled = a.enrol("alice", signatures(task2, 1, range(1, 7)), link_timeout=OFFLINE)
    assert enrolled["_rc"] == 0 and not enrolled["synced"]
    assert enrolled["outbox"] == 2                                  # the record and its audit event
    assert a.verify("alice", task2 / "U1S9.TXT", link_timeout=OFFLINE)["accepted"]
    status = a.run("status", link_timeout=OFFLINE)
    assert not status["connected"] and status["outbox"] == 3 and status["error"]   # + the decision

    hub.start()
    assert b.verify("alice", task2 / "U1S10.TXT")["reason"] == "unknown-user"   # a has not synced yet
    synced = a.run("sync")
    assert synced["synced"] and synced["pushed"] == 3 and synced["outbox"] == 0
    assert b.verify("alice", task2 / "U1S10.TXT")["accepted"]


def test_the_same_user_enrolled_on_both_sides_of_a_partition_ends_the_same_everywhere(hub_for, tmp_path, task2):
    hub = hub_for({"a": ALL, "b": ALL, "c": ALL})
    a, b, c = (Kiosk(tmp_path, name, hub) for name in "abc")
    hub.stop()
    # Two different people enrol as "carol" at two kiosks cut off from the hub.
    assert a.enrol("carol", signatures(task2, 1, range(1, 7)), link_timeout=OFFLINE)["_rc"] == 0
    assert b.enrol("carol", signatures(task2, 5, range(1, 7)), link_timeout=OFFLINE)["_rc"] == 0
    assert stored(a, "carol") != stored(b, "carol")
    hub.start()
    assert a.run("sync")["lost"] == []              # a reaches the hub first: its revision is the first
    assert b.run("sync")["lost"] == ["carol"]       # b's compare-and-set fails: it takes a's
    assert c.run("sync")["applied"] == 1
    assert stored(a, "carol") == stored(b, "carol") == stored(c, "carol")
    assert b.verify("carol", task2 / "U1S9.TXT")["accepted"]          # a's writer, at b
    assert not b.verify("carol", task2 / "U5S7.TXT")["accepted"]      # b's own writer lost
    events = c.run("history", "carol")["events"]
    lost = [e for e in events if e["event"] == "enrolment-lost"]
    assert [e["kiosk"] for e in lost] == ["b"]
