"""A single kiosk without the fleet extra works as before: nats-py is imported by
``sigpad fleet`` alone, and its absence there is said, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fleet_harness import NATS_BLOCKED, REPO, init_and_join, signatures

pytestmark = [pytest.mark.data]

# argv: store, then the enrolment files, then the file to verify. nats cannot be imported here.
PROBE = NATS_BLOCKED + r"""
from edge.app.cli import main
store, files, probe = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
enrolled = main(["enroll", "bob", "--store", store, "--file", *files])
verified = main(["verify", "bob", "--store", store, "--file", probe])
fleet = main(["fleet", "status", "--store", store])       # joined before, by the operator's side
print("codes", enrolled, verified, fleet, "nats" in sys.modules, "nkeys" in sys.modules)
"""


def test_enrol_and_verify_without_nats_py(tmp_path, task2):
    files = [str(p) for p in signatures(task2, 1, range(1, 7))]
    init_and_join(tmp_path / "ops", tmp_path / "store.db", "k1")
    r = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "store.db"), *files, str(task2 / "U1S9.TXT")],
                       cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "codes 0 0 2 False False"
    assert "the fleet needs nats-py" in r.stdout                 # status: not connected, and why
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("module", ["nats", "nkeys"])
def test_the_blocker_bites(tmp_path, module):
    r = subprocess.run([sys.executable, "-c", NATS_BLOCKED + f"import {module}\n"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"{module} is not installed here" in r.stderr
