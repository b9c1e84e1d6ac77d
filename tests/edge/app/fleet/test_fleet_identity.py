"""Identity and rights at the hub: per-kiosk users and permissions (hub.conf from
``sigpad fleet init``), the enrolment role, wrong credentials, key rotation."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fleet_harness import Kiosk, creds_of, open_link, signatures

from edge.app.fleet.subjects import audit_subject
from edge.errors import FleetError

pytestmark = [pytest.mark.slow, pytest.mark.data]


def attempt(creds, work):
    async def go():
        link = await open_link(creds)
        try:
            return await work(link)
        finally:
            await link.close()
    return asyncio.run(go())


def test_without_the_enrolment_role_a_kiosk_cannot_enrol_nor_write_as_another(hub_for, tmp_path, task2):
    hub = hub_for({"enroller": ["enrol"], "teller": []})
    enroller, teller = Kiosk(tmp_path, "enroller", hub), Kiosk(tmp_path, "teller", hub)
    refused = teller.enrol("mallory", signatures(task2, 1, range(1, 6)))
    assert refused["_rc"] == 2 and "no enrolment role" in refused["error"]
    # Past the CLI, the hub itself refuses: a record written with the teller's credentials never lands.
    with pytest.raises(FleetError, match="record of 'mallory'"):
        attempt(creds_of(teller), lambda link: link.put("mallory", b"{}", 0))
    with pytest.raises(FleetError, match="not taken"):
        attempt(creds_of(teller), lambda link: link.publish_audit(audit_subject("enroller", "x"), b"{}", "m1"))
    synced = teller.run("sync")
    assert synced["applied"] == 0 and synced["unreadable"] == []     # nothing of mallory reached the bucket
    # What it may do, it does: read the fleet and verify.
    assert enroller.enrol("alice", signatures(task2, 1, range(1, 6)))["synced"]
    assert teller.verify("alice", task2 / "U1S9.TXT")["accepted"]


def test_wrong_credentials_get_nothing(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"]})
    a = Kiosk(tmp_path, "a", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 6)))["synced"]
    wrong = dataclasses.replace(creds_of(a), password="not-the-password")
    with pytest.raises(FleetError, match="not reachable"):
        attempt(wrong, lambda link: link.last_seq("KV_sigpad_templates"))


def test_after_key_rotation_the_old_key_opens_nothing(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"], "b": [], "stolen": []})
    a, b, stolen = (Kiosk(tmp_path, name, hub) for name in ("a", "b", "stolen"))
    assert a.enrol("alice", signatures(task2, 1, range(1, 6)))["synced"]
    new_key = tmp_path / "fleet-k2.key"
    rotated = a.run("rotate-key", "--out", str(new_key))
    assert rotated["_rc"] == 0 and rotated["resealed"] == 1 and rotated["key_id"] == "k2"
    # The stolen kiosk kept k1: the bucket's records are k2's now.
    synced = stolen.run("sync")
    assert synced["unreadable"] == ["alice"] and synced["applied"] == 0
    assert stolen.verify("alice", task2 / "U1S9.TXT")["reason"] == "unknown-user"
    # A kiosk given the new key reads everything.
    assert b.run("join", hub.url, "--creds", str(hub.creds("b")), "--key", str(new_key))["_rc"] == 0
    assert b.verify("alice", task2 / "U1S9.TXT")["accepted"]
    assert a.verify("alice", task2 / "U1S10.TXT")["accepted"]     # the rotating kiosk holds k2 itself
