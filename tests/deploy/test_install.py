"""install.sh and uninstall.sh into a directory, with this machine's Python.

The layout, modes and owners a Pi gets, idempotence, upgrades that keep the
templates and the key, the model-change rule, 32-bit refusal, uninstall.
The same script on a real arm64 root under QEMU: test_emulated_pi.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from edge.app.config import load as load_config
from edge.errors import ModelError
from edge.verifier import model_dir_of

from .conftest import KINDS, install, make_bundle, make_store, require, require_root, sha256, write_sums

pytestmark = pytest.mark.usefixtures("_root_and_tools")


@pytest.fixture
def _root_and_tools():
    require_root()
    require("systemd-sysusers", "sha256sum")


def ids(root, name):
    for line in (root / "etc/passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return int(f[2]), int(f[3])
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


def snapshot(root):
    """Every file's mode, owner and content hash, but no bytecode."""
    out = {}
    for p in sorted(root.rglob("*")):
        if "__pycache__" in p.parts or p.suffix == ".pyc":
            continue
        st = p.lstat()
        body = os.readlink(p) if p.is_symlink() else (sha256(p) if p.is_file() else "")
        out[str(p.relative_to(root))] = (stat.filemode(st.st_mode), st.st_uid, st.st_gid, body)
    return out


def served(root, has_pressure):
    """The model directory the edge picks for a pad, by the installed config's [model] path."""
    cfg = load_config(root / "etc/sigpad/sigpad.toml")
    return model_dir_of(cfg.replace(model=root / cfg.model.relative_to("/")), has_pressure)


def active(root):
    """Kind -> installed model name the edge serves to a pad of that kind."""
    return {kind: served(root, kind == "pressure").resolve().name for kind in KINDS}


def names(bundle):
    """Kind -> the name the installer gives the bundle's model: KIND-SHA12 of its file."""
    return {kind: f"{kind}-{sha256(bundle / f'models/{kind}/encoder_int8.tflite')[:12]}" for kind in KINDS}


@pytest.mark.slow
def test_fresh_install_layout_and_rerun(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "bundle")
    root.mkdir()
    out = install(root, bundle).stdout
    uid, gid = ids(root, "sigpad")
    assert "sigpad" in (root / "etc/group").read_text().split("dialout:")[1].splitlines()[0]

    key = root / "var/lib/sigpad/store.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert (key.stat().st_uid, key.stat().st_gid) == (uid, gid)
    state = (root / "var/lib/sigpad").stat()
    assert stat.S_IMODE(state.st_mode) == 0o700 and state.st_uid == uid

    conf = (root / "etc/sigpad/sigpad.toml").read_text()
    assert 'path = "/opt/sigpad/model"' in conf and 'port = "/dev/sigpad"' in conf
    assert (root / "etc/systemd/system/sigpad.service").read_text() == (bundle / "sigpad.service").read_text()
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/sigpad.service") \
        == "/etc/systemd/system/sigpad.service"
    assert (root / "etc/udev/rules.d/99-sigpad.rules").exists()
    assert os.access(root / "usr/local/bin/sigpad", os.X_OK)

    # One link per kind under the configured path; each pad kind gets its own model.
    assert sorted(os.listdir(root / "opt/sigpad/model")) == sorted(KINDS)
    for kind in KINDS:
        model_sha = sha256(bundle / f"models/{kind}/encoder_int8.tflite")
        assert os.readlink(root / f"opt/sigpad/model/{kind}") == f"../models/{kind}-{model_sha[:12]}"
        model = served(root, kind == "pressure")
        assert model.resolve() == (root / f"opt/sigpad/models/{kind}-{model_sha[:12]}").resolve()
        assert sha256(model / "encoder_int8.tflite") == model_sha
    assert active(root)["pressure"] != active(root)["no_pressure"]
    run = subprocess.run([root / "opt/sigpad/bin/sigpad", "users"], capture_output=True, text=True)
    assert run.stdout.startswith("sigpad-stub 0.1.0 users"), run.stderr
    assert "installed in /opt/sigpad" in out

    before = snapshot(root)
    out = install(root, bundle).stdout  # idempotent: a rerun changes nothing
    assert "is installed already" in out
    assert snapshot(root) == before


@pytest.mark.slow
def test_upgrades_keep_templates_key_config_and_models(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    v1 = make_bundle(tmp_path / "v1", "0.1.0", model_seed=1)
    install(root, v1)
    key = root / "var/lib/sigpad/store.key"
    key_bytes = key.read_bytes()
    conf = root / "etc/sigpad/sigpad.toml"
    conf.write_text(conf.read_text().replace("after = 5", "after = 3"))  # the admin's change

    # New models, nobody enrolled yet: they simply become active.
    v2 = make_bundle(tmp_path / "v2", "0.2.0", model_seed=2)
    out = install(root, v2).stdout
    assert active(root) == names(v2) != names(v1)
    assert "re-enrol" not in out
    assert subprocess.run([root / "opt/sigpad/bin/sigpad"], capture_output=True, text=True).stdout \
        .startswith("sigpad-stub 0.2.0")
    assert key.read_bytes() == key_bytes and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "after = 3" in conf.read_text()
    assert "after = 5" in (root / "etc/sigpad/sigpad.toml.dist").read_text()

    # Users enrolled with both of them: no third model may silently take over.
    db = root / "var/lib/sigpad/templates.db"
    v2_sha = {k: sha256(v2 / f"models/{k}/encoder_int8.tflite") for k in KINDS}
    make_store(db, key, {"alice": v2_sha["pressure"], "bob": v2_sha["pressure"],
                         "carol": v2_sha["no_pressure"]})
    db_hash = sha256(db)
    v3 = make_bundle(tmp_path / "v3", "0.3.0", model_seed=3)
    out = install(root, v3).stdout
    assert active(root) == names(v2)
    assert f"new pressure model {names(v3)['pressure']} installed but NOT active: 2 user(s)" in out
    assert f"new no_pressure model {names(v3)['no_pressure']} installed but NOT active: 1 user(s)" in out
    assert "--switch-model" in out and "must re-enrol" not in out
    assert sha256(db) == db_hash and key.read_bytes() == key_bytes

    out = install(root, v3, "--switch-model").stdout
    assert active(root) == names(v3)
    assert "3 enrolled user(s)" in out and "must re-enrol" in out
    for name in names(v2).values():
        assert (root / f"opt/sigpad/models/{name}").is_dir(), "kept for a switch back"
    assert sha256(db) == db_hash and key.read_bytes() == key_bytes


@pytest.mark.slow
def test_model_rule_applies_per_kind(tmp_path):
    """Users on one kind's model hold that kind only: the other kind still upgrades."""
    root = tmp_path / "root"
    root.mkdir()
    v1, v2 = make_bundle(tmp_path / "v1", "0.1.0", 1), make_bundle(tmp_path / "v2", "0.2.0", 2)
    install(root, v1)
    make_store(root / "var/lib/sigpad/templates.db", root / "var/lib/sigpad/store.key",
               {"alice": sha256(v1 / "models/no_pressure/encoder_int8.tflite")})
    out = install(root, v2).stdout
    assert active(root) == {"pressure": names(v2)["pressure"], "no_pressure": names(v1)["no_pressure"]}
    assert "new no_pressure model" in out and "1 user(s)" in out
    assert "new pressure model" not in out and "must re-enrol" not in out


def old_layout(root, name):
    """What install.sh made before both kinds: /opt/sigpad/model, one link to one model."""
    model = root / "opt/sigpad/model"
    shutil.rmtree(model)
    model.symlink_to(f"models/{name}")


@pytest.mark.slow
@pytest.mark.parametrize("enrolled", [False, True])
def test_upgrade_from_the_single_model_link(tmp_path, enrolled):
    """The old link's model stays the active one of its kind when users hold it;
    the kind the old layout never served gets the bundle's model."""
    root = tmp_path / "root"
    root.mkdir()
    v1, v2 = make_bundle(tmp_path / "v1", "0.1.0", 1), make_bundle(tmp_path / "v2", "0.2.0", 2)
    install(root, v1)
    old_layout(root, names(v1)["pressure"])
    if enrolled:
        make_store(root / "var/lib/sigpad/templates.db", root / "var/lib/sigpad/store.key",
                   {"alice": sha256(v1 / "models/pressure/encoder_int8.tflite")})
    out = install(root, v2).stdout
    model = root / "opt/sigpad/model"
    assert model.is_dir() and not model.is_symlink()
    kept = names(v1 if enrolled else v2)["pressure"]
    assert active(root) == {"pressure": kept, "no_pressure": names(v2)["no_pressure"]}
    assert ("NOT active: 1 user(s)" in out) == enrolled
    assert "must re-enrol" not in out
    before = snapshot(root)
    install(root, v2)  # the converted layout is stable on a rerun
    assert snapshot(root) == before


@pytest.mark.slow
def test_a_bundle_without_a_kind(tmp_path):
    """No model of a kind: the installer says so, and the edge refuses that kind by name."""
    root = tmp_path / "root"
    root.mkdir()
    bundle = make_bundle(tmp_path / "bundle", kinds=("pressure",))
    out = install(root, bundle).stdout
    assert "no no_pressure model: pads without pressure (e.g. Topaz) are refused" in out
    assert os.listdir(root / "opt/sigpad/model") == ["pressure"]
    model_sha = sha256(bundle / "models/pressure/encoder_int8.tflite")
    assert served(root, True).resolve().name == f"pressure-{model_sha[:12]}"
    with pytest.raises(ModelError, match=r"no no_pressure model .*no_pressure/manifest.json is missing"):
        served(root, False)


def test_32bit_raspberry_pi_os_is_refused(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "bundle")
    (root / "usr/bin").mkdir(parents=True)
    # An ELF32 ARM header: what /usr/bin/python3.11 is on 32-bit Raspberry Pi OS.
    (root / "usr/bin/python3.11").write_bytes(b"\x7fELF\x01\x01\x01" + bytes(11) + b"\x28\x00" + bytes(44))
    (root / "usr/bin/python3").symlink_to("python3.11")
    proc = subprocess.run(["bash", str(bundle / "install.sh"), "--root", str(root), "--bundle", str(bundle)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "32-bit Raspberry Pi OS (armhf) is not supported" in proc.stderr
    assert "64-bit" in proc.stderr
    assert not (root / "opt").exists(), "nothing is installed"


def test_damaged_bundle_is_refused(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "bundle")
    root.mkdir()
    (bundle / "sigpad.service").write_text("tampered")
    proc = install(root, bundle, check=False)
    assert proc.returncode == 1 and "do not match SHA256SUMS" in proc.stderr
    write_sums(bundle)
    (bundle / "BUNDLE.json").unlink()
    proc = install(root, bundle, check=False)
    assert proc.returncode == 1 and "not a sigpad bundle" in proc.stderr


@pytest.mark.slow
def test_uninstall_keeps_data_unless_purged(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "bundle")
    root.mkdir()
    install(root, bundle)
    uninstall = root / "opt/sigpad/share/uninstall.sh"
    copy = tmp_path / "uninstall.sh"
    copy.write_bytes(uninstall.read_bytes())
    proc = subprocess.run(["bash", str(copy), "--root", str(root)], capture_output=True, text=True, check=True)
    assert "kept /etc/sigpad and /var/lib/sigpad" in proc.stdout
    assert not (root / "opt/sigpad").exists() and not (root / "etc/systemd/system/sigpad.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/sigpad.service").is_symlink()
    assert (root / "var/lib/sigpad/store.key").exists() and (root / "etc/sigpad/sigpad.toml").exists()
    key = (root / "var/lib/sigpad/store.key").read_bytes()
    install(root, bundle)  # a reinstall finds the same key
    assert (root / "var/lib/sigpad/store.key").read_bytes() == key
    subprocess.run(["bash", str(copy), "--root", str(root), "--purge"], check=True, capture_output=True)
    assert not (root / "var/lib/sigpad").exists() and not (root / "etc/sigpad").exists()


@pytest.mark.slow
def test_firstboot_takes_the_boot_partition_config_and_removes_the_bundle(tmp_path):
    root = tmp_path / "root"
    bundle = make_bundle(root / "opt/sigpad-bundle")  # where build_image.py puts it
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "sigpad-firstboot.service").symlink_to("/etc/systemd/system/sigpad-firstboot.service")
    fat = root / "boot/firmware/sigpad/sigpad.toml"
    fat.parent.mkdir(parents=True)
    fat.write_text((bundle / "sigpad.toml").read_text().replace('port = "/dev/sigpad"', 'port = "/dev/serial0"'))
    install(root, bundle, "--firstboot")
    assert 'port = "/dev/serial0"' in (root / "etc/sigpad/sigpad.toml").read_text()
    assert not bundle.exists(), "the bundle is removed, so the first-boot unit's condition fails next boot"
    assert not (wants / "sigpad-firstboot.service").is_symlink()
    assert (wants / "sigpad.service").is_symlink()
