"""``python -m firmware_bridge.virtual`` serves a pad a host can use; synthetic signing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from helpers.signatures import loop_signature
from helpers.waiting import PATIENCE_S

from firmware_bridge import svc2004
from firmware_bridge.capture import CaptureConfig
from firmware_bridge.pad import open_pad
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad, synthetic_signatures


def test_cli_serves_a_file(tmp_path):
    path = tmp_path / "U9S1.TXT"
    svc2004.write(loop_signature(), path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.virtual", "--protocol", "sigpad",
         "--file", str(path), "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port == str(tmp_path / "sigpad")
        with open_pad(port, "sigpad", config=CaptureConfig(lift_timeout_s=0.3)) as pad:
            got = next(pad.signatures())
            assert isinstance(got, Signature) and len(got) == 120
            assert pad.caps.serial == "VPAD-0001"
    finally:
        proc.terminate()
        assert proc.wait(PATIENCE_S) == 0


@pytest.mark.skipif(importlib.util.find_spec("firmware_bridge.synthetic") is None,
                    reason="firmware_bridge.synthetic (the synthetic writer) is not there yet")
def test_virtual_pad_signs_synthetic_signatures():
    (sig,) = synthetic_signatures(seed=7, count=1, rate_hz=200.0)
    with VirtualPad("sigpad", speed=4.0) as vpad, \
            open_pad(vpad.path, "sigpad", config=CaptureConfig(lift_timeout_s=0.3)) as pad:
        vpad.sign(sig)
        got = next(pad.signatures())
        assert isinstance(got, Signature) and len(got) == len(sig)
