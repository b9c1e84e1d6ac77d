"""``sigpad status`` shows the fleet from the kiosk's own files: no hub asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fleet_harness import REPO, signatures

from edge.app.fleet.hubconf import init_fleet
from edge.app.fleet.localhub import free_port

pytestmark = [pytest.mark.data]


def sigpad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.app.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_status_says_kiosk_outbox_and_link_of_a_kiosk_whose_hub_is_away(tmp_path, task2):
    url = f"nats://127.0.0.1:{free_port()}"        # nothing listens there
    written = init_fleet(tmp_path / "ops", url, url.removeprefix("nats://"), tmp_path / "js", {"k1": ["enrol"]})
    store = str(tmp_path / "k1" / "store.db")
    assert sigpad("fleet", "join", url, "--creds", written["creds"]["k1"], "--store", store).returncode == 0
    plain = json.loads(sigpad("status", "--json", "--store", store).stdout)
    assert plain["fleet"] == {"kiosk": "k1", "url": url, "roles": ["enrol"], "link": "unknown", "outbox": 0,
                              "revision": 0, "last_sync": None, "stale_s": None}
    enrolled = sigpad("fleet", "enroll", "alice", "--file", *map(str, signatures(task2, 1, range(1, 7))),
                      "--store", store, "--link-timeout", "0.5", "--json")
    assert enrolled.returncode == 0, enrolled.stderr
    fleet = json.loads(sigpad("status", "--json", "--store", store).stdout)["fleet"]
    assert fleet["link"] == "down" and fleet["outbox"] == 2          # the record and its audit event
    text = sigpad("status", "--store", store).stdout
    assert f"fleet    kiosk k1 of {url}: link down, never synced, outbox 2" in text
