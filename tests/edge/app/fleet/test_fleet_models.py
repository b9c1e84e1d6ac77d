"""Model rollout through the hub's object store: publish once, each kiosk fetches,
checks and switches by one rename; a kiosk without the models role cannot publish."""

from __future__ import annotations

import json
import shutil

import pytest
from edge_cases import model_dir_for
from fleet_harness import Kiosk

from edge.manifest import load_manifest, sha256_of

pytestmark = [pytest.mark.slow]


def test_publish_fetch_switch_and_refuse_a_model_that_is_not_its_manifests(hub_for, tmp_path):
    hub = hub_for({"ops": ["models"], "a": []})
    ops, a = Kiosk(tmp_path, "ops", hub), Kiosk(tmp_path, "a", hub)
    source = model_dir_for(True)
    manifest = load_manifest(source / "manifest.json")

    refused = a.run("publish-model", str(source))
    assert refused["_rc"] == 2 and "no models role" in refused["error"]
    published = ops.run("publish-model", str(source))
    assert published["_rc"] == 0 and published["sha256"] == manifest.sha256

    root = tmp_path / "a-models"
    fetched = a.run("fetch-model", "--to", str(root))
    assert fetched["changed"] and (root / "pressure").is_symlink()
    assert sha256_of(root / "pressure" / manifest.model_file) == manifest.sha256
    assert not a.run("fetch-model", "--to", str(root))["changed"]          # already in use
    assert [e["event"] for e in a.run("history", "")["events"]] == ["model-change"]

    # A model whose bytes are not its manifest's is published by nobody honest; the kiosk refuses it.
    bad = tmp_path / "bad"
    shutil.copytree(source, bad)
    data = bytearray((bad / manifest.model_file).read_bytes())
    data[-1] ^= 0xFF
    (bad / manifest.model_file).write_bytes(bytes(data))
    assert "does not match" in ops.run("publish-model", str(bad))["error"]   # checked before it leaves
    m = json.loads((bad / "manifest.json").read_text())
    m["sha256"] = sha256_of(bad / manifest.model_file)                    # a consistent but other model
    (bad / "manifest.json").write_text(json.dumps(m))
    assert ops.run("publish-model", str(bad))["_rc"] == 0
    switched = a.run("fetch-model", "--to", str(root))
    assert switched["changed"] and switched["sha256"] == m["sha256"]
    assert load_manifest(root / "pressure" / "manifest.json").sha256 == m["sha256"]
    assert (root / f"pressure-{manifest.sha256[:12]}").is_dir()            # the previous one, kept


def test_a_new_model_rederives_every_user_from_the_sealed_signatures(hub_for, tmp_path, task2):
    """The shipped pressure model enrols; the no-pressure model (another sha) stands in for a
    new one: after `rederive` a kiosk on the new model accepts the user without a new enrolment,
    and one still on the old model asks for re-enrolment."""
    from fleet_harness import signatures
    hub = hub_for({"ops": ["enrol", "models"], "a": ["enrol"], "b": []})
    ops, a, b = Kiosk(tmp_path, "ops", hub), Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    new_model = model_dir_for(False)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    assert b.verify("alice", task2 / "U1S9.TXT")["accepted"]

    done = ops.run("rederive", "--model", str(new_model))
    assert done["_rc"] == 0 and done["rederived"] == 1 and done["without_signatures"] == []
    assert done["model_sha"] == load_manifest(new_model / "manifest.json").sha256
    # Still on the old model: refused as enrolled with another one (the stand-in new model is the
    # shipped no-pressure one, which the verifier names as the other pad kind's).
    assert b.verify("alice", task2 / "U1S10.TXT")["reason"] == "wrong-pad-kind"
    assert b.run("verify", "alice", "--file", str(task2 / "U1S10.TXT"), "--model", str(new_model))["accepted"]
    assert ops.run("rederive", "--model", str(new_model))["current"] == 1     # done once
