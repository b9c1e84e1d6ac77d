"""Identity and rights at the hub: per-kiosk nkeys and permissions (hub.conf from
``sigpad fleet init``), the enrolment role, wrong credentials, a revoked kiosk, a damaged
seed file, key rotation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import stat

import pytest
from fleet_harness import Kiosk, creds_of, open_link, signatures

from edge.app.fleet.nkeyid import new_identity, public_key
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
    refused = teller.enrol("mallory", signatures(task2, 1, range(1, 7)))
    assert refused["_rc"] == 2 and "no enrolment role" in refused["error"]
    # Past the CLI, the hub itself refuses: a record written with the teller's credentials never lands.
    with pytest.raises(FleetError, match="record of 'mallory'"):
        attempt(creds_of(teller), lambda link: link.put("mallory", b"{}", 0))
    with pytest.raises(FleetError, match="not taken"):
        attempt(creds_of(teller), lambda link: link.publish_audit(audit_subject("enroller", "x"), b"{}", "m1"))
    synced = teller.run("sync")
    assert synced["applied"] == 0 and synced["unreadable"] == []     # nothing of mallory reached the bucket
    # What it may do, it does: read the fleet and verify.
    assert enroller.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    assert teller.verify("alice", task2 / "U1S9.TXT")["accepted"]


def test_wrong_credentials_get_nothing(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"]})
    a = Kiosk(tmp_path, "a", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    stranger, _ = new_identity()                     # a well-formed seed the hub does not know
    with pytest.raises(FleetError, match="not reachable.*Authorization Violation"):
        attempt(dataclasses.replace(creds_of(a), seed=stranger), lambda link: link.last_seq("KV_sigpad_templates"))
    assert "authentication error" in hub.log()


def test_init_gives_each_kiosk_an_nkey_and_the_hub_only_its_public_key(tmp_path):
    from edge.app.cli import main
    out = tmp_path / "ops"
    assert main(["fleet", "init", "--out", str(out), "--kiosks", "k1,k2", "--no-tls", "--json"]) == 0
    conf = (out / "hub.conf").read_text()
    for name in ("k1", "k2"):
        path = out / "creds" / f"{name}.json"
        creds = json.loads(path.read_text())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert creds["nkey_seed"].startswith("SU") and public_key(creds["nkey_seed"], "t") == creds["nkey"]
        assert f'{{nkey: "{creds["nkey"]}"' in conf and creds["nkey_seed"] not in conf
    assert "password" not in conf and "user:" not in conf


def test_a_revoked_kiosk_is_cut_off_at_the_reload_and_refused_after(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"], "lost": ["enrol"]})
    a, lost = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "lost", hub)
    assert lost.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]

    async def cut_off_while_connected() -> tuple[int, BaseException | None]:
        link = await open_link(creds_of(lost))
        before = await link.last_seq("KV_sigpad_templates")
        revoked = lost.run("revoke", "lost", "--conf", str(tmp_path / "hub" / "hub.conf"),
                           "--reload", str(hub.proc.pid))
        assert revoked["_rc"] == 0 and revoked["reloaded"], revoked
        await wait_closed(link)
        try:
            await link.last_seq("KV_sigpad_templates")
        except FleetError as exc:
            return before, exc
        finally:
            await link.close()
        return before, None
    before, after = asyncio.run(cut_off_while_connected())
    assert before >= 1 and after is not None and "closed" in str(after).lower(), after
    assert "kiosk lost" not in (tmp_path / "hub" / "hub.conf").read_text()
    refused = lost.run("sync")
    assert refused["_rc"] != 0 and "Authorization Violation" in refused["error"], refused
    assert lost.enrol("bob", signatures(task2, 2, range(1, 7)))["synced"] is False   # kept here, never sent
    assert a.run("sync")["_rc"] == 0                         # the others are untouched by the reload
    assert a.verify("bob", task2 / "U2S9.TXT")["reason"] == "unknown-user"
    assert a.verify("alice", task2 / "U1S9.TXT")["accepted"]


async def wait_closed(link, limit_s: float = 60.0) -> None:
    """Until the hub has closed ``link`` (it does at the reload); a bound, not a duration asserted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not link.nc.is_closed and loop.time() < deadline:
        await asyncio.sleep(0.02)


def test_a_damaged_seed_file_is_named_and_nothing_is_sent(hub_for, tmp_path):
    hub = hub_for({"a": [], "b": []})
    a = Kiosk(tmp_path, "a", hub)
    seed_file = a.store.parent / "fleet" / "kiosk.nk"
    seed = seed_file.read_text().strip()
    seed_file.write_text(seed[:20] + ("B" if seed[20] == "A" else "A") + seed[21:] + "\n")
    synced = a.run("sync")
    assert synced["_rc"] != 0 and str(seed_file) in synced["error"] and "nkey" in synced["error"], synced
    assert "authentication error" not in hub.log()           # refused here, before the hub is asked
    seed_file.write_text("not a seed\n")
    assert str(seed_file) in a.run("status")["error"]
    # another kiosk's seed, well formed: named here too (fleet.json has this kiosk's key)
    seed_file.write_text(json.loads(hub.creds("b").read_text())["nkey_seed"] + "\n")
    swapped = a.run("sync")
    assert swapped["_rc"] != 0 and "another kiosk" in swapped["error"], swapped
    creds = json.loads(hub.creds("a").read_text())
    creds["nkey_seed"] = "SUgarbage"
    bad_creds = tmp_path / "bad.json"
    bad_creds.write_text(json.dumps(creds))
    bad_creds.chmod(0o600)
    joined = a.cli("join", hub.url, "--creds", str(bad_creds))
    assert joined.returncode != 0 and str(bad_creds) in joined.stdout + joined.stderr


def test_after_key_rotation_the_old_key_opens_nothing(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"], "b": [], "stolen": []})
    a, b, stolen = (Kiosk(tmp_path, name, hub) for name in ("a", "b", "stolen"))
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
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
