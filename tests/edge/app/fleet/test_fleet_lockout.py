"""One lockout for the fleet: the failures at every kiosk count at each.

lockout_after = 5 (the shipped sigpad.toml). Worked by hand: a fails twice
(a counts 2); b syncs a's two, fails twice (b counts 4); c syncs those
four and fails once: 5, locked at c. a and b learn c's failure (and each
other's) at their next sync, before they judge: 5, locked there too.
"""

from __future__ import annotations

import pytest
from fleet_harness import Kiosk, signatures

pytestmark = [pytest.mark.slow, pytest.mark.data]
ALL = ["enrol"]


def test_five_failures_over_three_kiosks_lock_the_user_at_all_of_them(hub_for, tmp_path, task2):
    hub = hub_for({"a": ALL, "b": ALL, "c": ALL})
    a, b, c = (Kiosk(tmp_path, name, hub) for name in "abc")
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    forgeries = iter(signatures(task2, 1, range(21, 26)))      # skilled forgeries of user 1
    for kiosk in (a, a, b, b):
        decision = kiosk.verify("alice", next(forgeries))
        assert decision["reason"] == "no-match", (kiosk.name, decision)
    fifth = c.verify("alice", next(forgeries))
    assert fifth["reason"] == "no-match"
    for kiosk in (a, b, c):                                    # the genuine writer, now refused everywhere
        refused = kiosk.verify("alice", task2 / "U1S9.TXT")
        assert refused["reason"] == "locked-out", (kiosk.name, refused)

    assert b.run("unlock", "alice")["unlocked"]                # one unlock frees her fleet-wide
    assert a.verify("alice", task2 / "U1S9.TXT")["accepted"]


def test_a_kiosk_counts_only_the_fleet_and_its_own_never_a_failure_twice(hub_for, tmp_path, task2):
    hub = hub_for({"a": ALL, "b": ALL})
    a, b = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    for forgery in signatures(task2, 1, range(21, 25)):       # 4 failures at a
        assert a.verify("alice", forgery)["reason"] == "no-match"
    for _ in range(3):                                        # syncing again adds nothing
        assert b.run("sync")["synced"]
    # b has counted 4: its own first failure makes 5 and locks; a 4th count would have locked earlier.
    assert b.verify("alice", task2 / "U1S25.TXT")["reason"] == "no-match"
    assert b.verify("alice", task2 / "U1S9.TXT")["reason"] == "locked-out"


def test_cut_off_kiosks_lock_sooner_and_one_unlock_frees_them_when_healed(hub_for, tmp_path, task2):
    """Offline, a kiosk locks after 2 failures (--offline-lockout-after 2): a forger at two
    cut-off kiosks gets 2 tries at each, not 4 (lockout_after - 1) at each. Healed, each is
    still locked (the other's failures fell inside its own lock: not counted), until one unlock."""
    hub = hub_for({"a": ALL, "b": ALL})
    a, b = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    assert b.run("sync")["applied"] == 1
    hub.stop()
    forgeries = iter(signatures(task2, 1, range(21, 27)))
    for kiosk in (a, b):
        for _ in range(2):
            assert kiosk.verify("alice", next(forgeries), link_timeout=0.5)["reason"] == "no-match"
        assert kiosk.verify("alice", next(forgeries), link_timeout=0.5)["reason"] == "locked-out"
    hub.start()
    for kiosk in (a, b):
        assert kiosk.verify("alice", task2 / "U1S9.TXT")["reason"] == "locked-out"
    assert b.run("unlock", "alice")["unlocked"]
    assert a.verify("alice", task2 / "U1S9.TXT")["accepted"]
