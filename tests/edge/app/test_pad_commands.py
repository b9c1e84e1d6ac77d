"""``sigpad ports`` and ``sigpad probe`` against the virtual pad on a real pty.
(The baud decision itself is tested on recorded bytes in tests/firmware_bridge/test_probe.py:
a pty ignores baud.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.app.cli import main
from firmware_bridge.virtual import VirtualPad

ROOT = Path(__file__).resolve().parents[3]
HOLD = ("import sys; from firmware_bridge.transport import Transport; t = Transport(sys.argv[1]); "
        "t.open(); print('open', flush=True); sys.stdin.read()")


@pytest.fixture
def sigpad(capsys):
    def run(*argv):
        code = main(list(argv))
        out = capsys.readouterr().out
        return code, (json.loads(out) if "--json" in argv else out)
    return run


def test_ports_lists_a_named_port(sigpad):
    with VirtualPad("sigpad") as vpad:
        code, out = sigpad("ports", vpad.path, "--json")
        code_text, text = sigpad("ports", vpad.path)
        tty = os.path.realpath(vpad.path)
    mine = out["ports"][0]
    assert code == code_text == 0 and mine["device"] == vpad.path
    assert mine["path"] == tty and tty.startswith("/dev/pts/") and mine["usb_id"] is None
    assert mine["in_use"] is False and mine["may_open"] is True
    assert text.splitlines()[0].startswith(f"{vpad.path} -> {mine['path']}; no usb id; ")
    assert "free; you may open it" in text.splitlines()[0]


def test_probe_names_the_pad_protocol_baud_and_pressure(sigpad):
    with VirtualPad("isdv4") as vpad:
        code, out = sigpad("probe", "--port", vpad.path, "--seconds", "0.3", "--json")
        _, text = sigpad("probe", "--port", vpad.path, "--protocol", "isdv4", "--seconds", "0.3")
    assert code == 0 and out["protocol"] == "isdv4" and out["baud"] == 38400 and out["bytes"] > 0
    assert out["capabilities"]["max_pressure"] == 1023 and out["reason"] is None
    # the settings say sigpad (the shipped default): the fix says what to set
    assert "use --protocol isdv4" in out["fix"]
    assert text.strip() == (f"{vpad.path}: isdv4 at 38400 baud 8N1, pressure 0-1023, "
                            "26202 x 16325 (reported by the pad)")


def test_probe_of_a_silent_pad_exits_2(sigpad):
    with VirtualPad("topaz") as vpad:
        code, out = sigpad("probe", "--port", vpad.path, "--protocol", "topaz", "--seconds", "0.3", "--json")
    assert (code, out["reason"], out["protocol"], out["bytes"]) == (2, "pad-silent", None, 0)
    assert "pen" in out["fix"]


def test_probe_of_a_port_in_use_names_the_holder(tmp_path, capsys):
    with VirtualPad("sigpad") as vpad:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, vpad.path], cwd=ROOT, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout.readline().strip() == "open"
            code = main(["probe", "--port", vpad.path, "--seconds", "0.3", "--json"])
        finally:
            holder.stdin.close()
            holder.wait(10)
    out = json.loads(capsys.readouterr().out)
    assert (code, out["reason"]) == (2, "pad-in-use") and f"in use by PID {holder.pid}" in out["error"]
