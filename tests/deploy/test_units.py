"""The systemd unit, the udev rule and the scripts, checked without a Pi.

``systemd-analyze verify`` and ``security --offline`` run here (no running
systemd needed); udev rules get a grammar check, and ``udevadm verify``
where the systemd is new enough (254+; bookworm has 252).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import DEPLOY, install, make_bundle, require, require_root

MAX_EXPOSURE = 1.5


def keys(name="sigpad.service"):
    out = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_unit_has_the_hardening_the_issue_asks_for():
    k = keys()
    assert k["Type"] == ["notify"] and k["WatchdogSec"] and k["Restart"] == ["on-failure"]
    assert k["User"] == ["sigpad"] and "dialout" in k["SupplementaryGroups"][0]
    assert k["DevicePolicy"] == ["closed"]
    assert {"char-ttyUSB rw", "char-ttyACM rw", "char-ttyAMA rw"} <= set(k["DeviceAllow"])
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "StateDirectory": "sigpad", "ConfigurationDirectory": "sigpad"}.items():
        assert k[key] == [value], key
    assert k["ExecStart"][0].startswith("/opt/sigpad/bin/sigpad serve --config /etc/sigpad/sigpad.toml")


@pytest.fixture(scope="module")
def installed_root(tmp_path_factory):
    require_root()
    require("systemd-sysusers", "sha256sum")
    tmp = tmp_path_factory.mktemp("units")
    root = tmp / "root"
    root.mkdir()
    install(root, make_bundle(tmp / "bundle"))
    return root


@pytest.mark.slow
def test_systemd_analyze_verify(installed_root, tmp_path):
    """verify against the host's systemd, with ExecStart pointing into the installed root."""
    require("systemd-analyze")
    for name in ("sigpad.service", "sigpad-firstboot.service"):
        text = (DEPLOY / name).read_text().replace("/opt/sigpad/", f"{installed_root}/opt/sigpad/")
        (tmp_path / name).write_text(text)
        proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)],
                              capture_output=True, text=True)
        # Only our unit's complaints count: the host's own units may have some.
        ours = [ln for ln in proc.stderr.splitlines() if "sigpad" in ln]
        assert proc.returncode == 0 and not ours, proc.stderr


def test_security_exposure_is_low():
    require("systemd-analyze")
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                           str(DEPLOY / "sigpad.service")], capture_output=True, text=True)
    found = re.search(r"Overall exposure level for sigpad.service: ([0-9.]+)", proc.stdout)
    assert found, proc.stdout[-2000:] + proc.stderr[-2000:]
    score = float(found.group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= MAX_EXPOSURE


RULE_KEY = re.compile(r'^(?P<key>[A-Z_]+)(\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<val>[^"]*)"$')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ATTRS", "ATTR", "ENV", "DRIVERS", "TAG"}
ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "OWNER", "ENV", "TAG", "GOTO", "LABEL", "RUN"}


def rules():
    for line in (DEPLOY / "99-sigpad.rules").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


def test_udev_rule_grammar_and_content():
    labels, gotos, text = set(), set(), (DEPLOY / "99-sigpad.rules").read_text()
    for line in rules():
        for part in (p.strip() for p in line.split(",")):
            m = RULE_KEY.match(part)
            assert m, f"not a udev key: {part!r} in {line!r}"
            key, op = m["key"], m["op"]
            assert key in (MATCH_KEYS if op in ("==", "!=") else ASSIGN_KEYS), f"{key}{op} in {line!r}"
            if key == "LABEL":
                labels.add(m["val"])
            if key == "GOTO":
                gotos.add(m["val"])
    assert gotos <= labels, f"GOTO without LABEL: {gotos - labels}"
    assert 'ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6001"' in text
    for needed in ('SYMLINK+="sigpad"', 'GROUP="dialout"', 'ENV{ID_MM_DEVICE_IGNORE}="1"', 'TAG+="systemd"'):
        assert needed in text


def test_udev_rule_names_every_pad_usb_id_the_protocols_know():
    # `--port auto` finds these ids; docs/deploy.md promises /dev/sigpad for them.
    from firmware_bridge.protocols import PROTOCOLS
    text = (DEPLOY / "99-sigpad.rules").read_text()
    for proto in PROTOCOLS.values():
        for vid, pid in proto.usb_ids:
            assert f'ATTRS{{idVendor}}=="{vid:04x}", ATTRS{{idProduct}}=="{pid:04x}", GOTO="sigpad_pad"' in text


def test_udevadm_verify_when_available():
    require("udevadm")
    helptext = subprocess.run(["udevadm", "--help"], capture_output=True, text=True).stdout
    if "verify" not in helptext:
        pytest.skip("udevadm verify needs systemd 254+ (bookworm has 252): grammar test above instead")
    subprocess.run(["udevadm", "verify", str(DEPLOY / "99-sigpad.rules")], check=True)


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh", "sigpad-wrapper.sh"])
def test_scripts_parse_and_are_strict(script):
    path = DEPLOY / script
    shell = "sh" if script.endswith("wrapper.sh") else "bash"
    subprocess.run([shell, "-n", str(path)], check=True)
    body = path.read_text()
    assert ("set -euo pipefail" in body) or (shell == "sh" and "set -eu" in body)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", "-S", "warning", str(path)], check=True)
