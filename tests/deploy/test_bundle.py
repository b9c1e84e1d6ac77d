"""deploy/bundle.py: what goes into the Pi bundle, and what must never.

These build a bundle without the aarch64 wheels (no network); the full
offline bundle is built and installed by test_emulated_pi.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from edge.app import config as edge_config
from firmware_bridge.errors import SigpadError

from .conftest import REPO, B, fake_model


def test_platform_tags_include_the_newer_manylinux_tags():
    tags = B.platform_tags("3.11")
    assert "manylinux2014_aarch64" in tags and "manylinux_2_27_aarch64" in tags
    assert "manylinux_2_34_aarch64" in tags and "manylinux_2_36_aarch64" in tags
    assert "manylinux_2_37_aarch64" not in tags, "bookworm's glibc is 2.36"
    assert "manylinux_2_41_aarch64" in B.platform_tags("3.13")


def test_pi_config_pins_store_model_and_pad(tmp_path):
    text = B.pi_config((REPO / "edge" / "sigpad.toml").read_text())
    (tmp_path / "sigpad.toml").write_text(text)
    cfg = edge_config.load(tmp_path / "sigpad.toml")
    assert str(cfg.store) == "/var/lib/sigpad/templates.db"
    assert str(cfg.key_file) == "/var/lib/sigpad/store.key"
    assert str(cfg.model) == "/opt/sigpad/model"
    assert cfg.port == "/dev/sigpad"


def test_pi_config_replaces_active_keys_and_adds_missing_sections():
    text = B.pi_config('[pad]\nport = "/dev/ttyUSB0"\nprotocol = "isdv4"\n',
                       {"pad": {"port": "/dev/sigpad"}, "model": {"path": "/m"}})
    assert text.count("port =") == 1 and 'port = "/dev/sigpad"' in text
    assert 'protocol = "isdv4"' in text and '[model]\npath = "/m"' in text


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    fake_model(models / "pressure", 7)
    out = tmp_path_factory.mktemp("dist")
    return B.build(out, ["3.11"], False, out / "cache", models)


@pytest.mark.slow
def test_bundle_contents(small_bundle):
    bundle, meta = small_bundle
    for name in (*B.DEPLOY_FILES, "sigpad.toml", "BUNDLE.json", "SHA256SUMS", "models/pressure/manifest.json",
                 "models/pressure/encoder_int8.tflite"):
        assert (bundle / name).is_file(), name
    assert (bundle / "install.sh").stat().st_mode & 0o111
    assert meta["format"] == "sigpad-bundle/1" and meta["offline"] is False
    assert [w for w in meta["wheels"] if w.startswith("sigpad-")]
    subprocess.run(["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=bundle, check=True)
    assert json.loads((bundle / "BUNDLE.json").read_text())["models"]["pressure"] == meta["models"]["pressure"]


@pytest.mark.slow
def test_no_research_data_in_the_bundle(small_bundle):
    bundle, _ = small_bundle
    names = [p.name for p in bundle.rglob("*")]
    for wheel in (bundle / "wheels").glob("*.whl"):
        names += zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if B.SVC_NAME.search(n)]
    assert not [n for n in names if "svc2004/" in n.lower() or n.lower().startswith("task2")]


def test_a_wheel_with_svc2004_files_is_refused(tmp_path):
    wheel = tmp_path / "sigpad-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("edge/data/U1S1.TXT", "3\n")
    with pytest.raises(SigpadError, match="SVC2004"):
        B.check_wheel(wheel)


def test_an_svc2004_file_anywhere_in_the_bundle_is_refused(tmp_path):
    (tmp_path / "wheels").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "u2s21.txt").write_text("3\n")
    with pytest.raises(SigpadError, match="refusing to bundle SVC2004 data"):
        B.seal(tmp_path, {"format": B.FORMAT}, [])
    assert not (tmp_path / "BUNDLE.json").exists()


def test_a_model_that_disagrees_with_its_manifest_is_refused(tmp_path):
    fake_model(tmp_path / "m" / "pressure", 1)
    (tmp_path / "m/pressure/encoder_int8.tflite").write_bytes(b"other bytes")
    with pytest.raises(SigpadError, match="differs from its manifest"):
        B.copy_models(tmp_path / "m", tmp_path / "out")


def test_bundle_module_does_not_import_tensorflow():
    code = "import sys, trainer.cli; trainer.cli.load('deploy/bundle.py'); trainer.cli.build_parser(); " \
           "sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_cli_registers_bundle():
    from trainer import cli
    args = cli.build_parser().parse_args(["bundle", "--no-wheels", "--no-tar"])
    assert args._module == "deploy/bundle.py" and args.no_wheels and not getattr(args, "_missing", None)
    assert cli.load(args._module) is B  # loaded once: the command and these tests share the module


def test_bundle_runs_as_a_script_of_the_checkout(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "deploy" / "bundle.py"), "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--no-wheels" in proc.stdout


def test_without_the_checkout_bundle_is_not_available(monkeypatch, tmp_path, capsys):
    from trainer import cli
    monkeypatch.setattr(cli, "CHECKOUT", tmp_path)  # an installed wheel: no deploy/ beside it
    monkeypatch.delitem(sys.modules, "deploy_bundle")
    assert cli.main(["bundle"]) == 2
    assert "bundle: not available in this build" in capsys.readouterr().err
