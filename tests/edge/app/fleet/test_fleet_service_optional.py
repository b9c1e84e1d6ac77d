"""``sigpad serve`` without nats-py, joined to a fleet or not: it starts, verifies and says
``{"fleet": null}`` on ``/v1/fleet``, as a single kiosk (nats-py blocked as in
test_fleet_optional)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fleet_harness import NATS_BLOCKED, REPO, init_and_join

pytestmark = [pytest.mark.slow]

# argv: a scratch root, the model directory, "joined" or "alone". nats cannot be imported here.
PROBE = NATS_BLOCKED + r"""
sys.path[:0] = ["tests", "tests/edge/app"]
import json, logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from service_harness import enrol_directly, http_client, running
from edge.app.config import Config
from edge.client import ServiceClient
from firmware_bridge.protocols import get
from firmware_bridge.virtual import VirtualPad, synthetic_signatures
logging.basicConfig(level=logging.INFO)
root, model, joined = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "joined"
store = root / "svc" / "store.db"
assert (root / "svc" / "fleet" / "fleet.json").exists() == joined     # joined before, by the operator's side
(root / "run").mkdir()
with VirtualPad("sigpad", speed=16.0, caps=get("sigpad").default_caps._replace(max_x=15000, max_y=7500)) as pad:
    cfg = Config(store=store, model=model, port=pad.path, protocol="sigpad", socket=root / "run" / "control.sock",
                 http="127.0.0.1:0", lift_timeout_s=0.8)
    enrol_directly(cfg, "writer")
    with running(cfg):
        api = http_client(cfg)
        with api.stream() as events, ServiceClient(cfg.socket) as client:
            pending = ThreadPoolExecutor(1).submit(client.verify, "writer")
            events.until("prompt")
            pad.sign(list(synthetic_signatures(7_000_000_099, 7))[6])   # after the 6 enrolled
            decision = pending.result(120)
        fleet = api.call("GET", "/v1/fleet")
print("RESULT", json.dumps({"reason": decision["reason"], "fleet": fleet,
                            "nats": "nats" in sys.modules or "nkeys" in sys.modules}))
"""


@pytest.mark.parametrize("joined", ["joined", "alone"])
def test_serve_verifies_without_nats_py(tmp_path, model_dir, joined):
    if joined == "joined":
        init_and_join(tmp_path / "conf", tmp_path / "svc" / "store.db", "svc")
    r = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(model_dir), joined],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1].removeprefix("RESULT "))
    assert result == {"reason": result["reason"], "fleet": {"fleet": None}, "nats": False}
    assert result["reason"] in ("match", "no-match")          # judged: not a replay of an enrolment signature
    assert "Traceback" not in r.stderr
    said = "the fleet needs nats-py" in r.stderr and "serving as a single kiosk" in r.stderr
    assert said == (joined == "joined"), r.stderr[-3000:]
