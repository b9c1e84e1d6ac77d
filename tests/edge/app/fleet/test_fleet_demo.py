"""``sigpad fleet demo``: a real hub and two kiosks tell the story it promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fleet_harness import REPO, need_fleet

pytestmark = [pytest.mark.slow]


def test_the_demo_enrols_verifies_elsewhere_works_offline_and_heals():
    need_fleet()
    r = subprocess.run([sys.executable, "-m", "edge.app.cli", "fleet", "demo", "--json"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = json.loads(r.stdout.strip().splitlines()[-1])["lines"]
    said = {line.split(":")[0] + ":" + line.split(":")[1]: line for line in lines if line.startswith("kiosk")}
    assert "ACCEPTED" in said["kiosk2: verify ada (genuine)"]
    assert "REJECTED" in said["kiosk2: verify ada (forgery)"]
    assert "hub away" in said["kiosk1: enrolled grace offline; sync"]
    assert "ACCEPTED" in said["kiosk1: verify grace at once"]
    assert "unknown-user" in said["kiosk2: verify grace (not synced yet)"]
    assert "ACCEPTED" in said["kiosk2: verify grace"]
