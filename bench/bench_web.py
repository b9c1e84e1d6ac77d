"""The web API: ink latency to the browser, /v1/status throughput, the install cost of aiohttp.

    python -m bench.bench_web [--signatures N] [--seconds S] [--concurrency C]

Prints JSON lines:

* ``ink_latency``: from a pen sample written on the pty to its ``ink`` event
  arriving in the kiosk page (headless Chromium, ``bench.browser``), median,
  p90 and max over N synthetic signatures signed by the virtual pad (sigpad
  protocol, real time). The pad stamps each sample with its own clock at the
  moment it is due to be written; the page stamps the event on arrival
  (``window.sigpadInk``); both clocks are this machine's, so the difference
  is the latency (the virtual pad's own lateness in writing is counted too).
  Without Chromium, the figure comes from the Python client's WebSocket
  instead, and says so.
* ``status_rps``: ``GET /v1/status`` answered per second by the service (a
  separate process) under C concurrent keep-alive clients for S seconds,
  127.0.0.1 only; the run stops by itself after S seconds.
* ``install``: the installed size of aiohttp and its dependencies, and of
  the whole edge extra (the same method as ``bench_edge``).

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edge.client import HttpClient
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

ROOT = Path(__file__).resolve().parent.parent
PAD_CAPS = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)


def start_service(tmp: Path, port_path: str) -> tuple[subprocess.Popen, HttpClient]:
    (tmp / "run").mkdir(mode=0o700)
    (tmp / "sigpad.toml").write_text('[service]\nhttp = "127.0.0.1:0"\n[pad]\nlift_timeout_s = 0.8\n')
    with open(tmp / "serve.log", "w") as log:  # the service keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "edge.app.cli", "serve", "--config", str(tmp / "sigpad.toml"),
                                 "--port", port_path, "--protocol", "sigpad", "--socket", str(tmp / "run/c.sock"),
                                 "--store", str(tmp / "t.db")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    from edge.client import ServiceClient
    deadline = time.monotonic() + 60
    while True:
        try:
            with ServiceClient(tmp / "run/c.sock") as c:
                status = c.status()
            if status["pad"]["present"]:
                return proc, HttpClient(status["url"], token_file=tmp / "run/http.token")
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the service did not start: " + (tmp / "serve.log").read_text()[-2000:])
        time.sleep(0.1)


def written_at_ms(vpad: VirtualPad, device_ms: float, epoch_minus_monotonic: float) -> float:
    """When the pad wrote the sample it stamped ``device_ms``, in ms since the epoch
    (the virtual pad's clock counts from its boot on the monotonic clock)."""
    return (vpad._boot + device_ms / 1000.0 + epoch_minus_monotonic) * 1000.0


def ink_latency(api: HttpClient, vpad: VirtualPad, n: int, kiosk_token: str) -> dict:
    from bench.browser import Chromium, find_chromium
    writer = make_writer(7_000_000_002)
    offset = time.time() - time.monotonic()
    latencies: list[float] = []
    where = "chromium" if find_chromium() else "python-websocket"
    if where == "chromium":
        with Chromium(f"{api.base}/#k={kiosk_token}") as page:      # the page's credential, in the fragment
            page.wait_for("document.getElementById('pad').textContent === 'pad sigpad'")
            for i in range(n):
                page.evaluate("window.sigpadInk = []")
                _sign_once(api, vpad, writer.genuine(i))
                stamps = page.evaluate("window.sigpadInk")
                latencies += [at - written_at_ms(vpad, t, offset) for t, at in stamps]
    else:
        with api.stream() as events:
            for i in range(n):
                arrived = []
                verify = ThreadPoolExecutor(1).submit(api.capture)
                events.until("prompt")
                vpad.sign(writer.genuine(i))
                while (e := events.next(30))["event"] != "captured":
                    if e["event"] == "ink":
                        arrived.append((e["t_ms"], time.time() * 1000))
                verify.result(30)
                latencies += [at - written_at_ms(vpad, t, offset) for t, at in arrived]
    q = statistics.quantiles(latencies, n=10)
    return {"bench": "web", "metric": "ink_latency", "measured_in": where, "signatures": n,
            "events": len(latencies), "median_ms": round(statistics.median(latencies), 2),
            "min_ms": round(min(latencies), 2), "p90_ms": round(q[8], 2), "max_ms": round(max(latencies), 2)}


def _sign_once(api: HttpClient, vpad: VirtualPad, sig) -> None:
    verify = ThreadPoolExecutor(1).submit(api.capture)   # holds the pad like a verify (no user to check)
    deadline = time.monotonic() + 10
    while api.status()["busy"] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    vpad.sign(sig)
    verify.result(60)


async def _hammer(url: str, seconds: float, concurrency: int, cap: int,
                  headers: dict[str, str] | None = None) -> tuple[int, int, float]:
    import aiohttp
    ok = errors = 0
    stop_at = time.monotonic() + seconds

    async def one(session):
        nonlocal ok, errors
        while time.monotonic() < stop_at and ok + errors < cap:
            async with session.get(url, headers=headers) as resp:
                await resp.read()
                ok, errors = (ok + 1, errors) if resp.status == 200 else (ok, errors + 1)
    t0 = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
    return ok, errors, time.monotonic() - t0


def status_rps(api: HttpClient, seconds: float, concurrency: int) -> dict:
    # with the integrator's token: the full status (store read, counters), as measured before roles
    ok, errors, elapsed = asyncio.run(_hammer(api.base + "/v1/status", seconds, concurrency, cap=1_000_000,
                                              headers={"Authorization": f"Bearer {api.token}"}))
    return {"bench": "web", "metric": "status_rps", "requests_per_s": round(ok / elapsed, 1),
            "requests": ok, "errors": errors, "seconds": round(elapsed, 2), "concurrency": concurrency,
            "target": "127.0.0.1 only; the service in its own process"}


def install() -> dict:
    from bench.bench_edge import installed_size
    web = installed_size(["aiohttp"])
    whole = installed_size()
    return {"bench": "web", "metric": "install", "aiohttp_closure_mb": web["total_mb"],
            "aiohttp_packages_mb": web["packages_mb"], "edge_extra_mb": whole["total_mb"],
            "edge_extra_without_aiohttp_mb": round(whole["total_mb"] - web["total_mb"], 1),
            "method": whole["method"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--signatures", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--concurrency", type=int, default=16)
    args, _ = p.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp, \
            VirtualPad("sigpad", speed=1.0, caps=PAD_CAPS) as vpad:
        proc, api = start_service(Path(tmp), vpad.path)
        try:
            kiosk_token = (Path(tmp) / "run/kiosk.token").read_text().strip()
            for result in (ink_latency(api, vpad, args.signatures, kiosk_token),
                           status_rps(api, args.seconds, args.concurrency), install()):
                print(json.dumps(result), flush=True)
        finally:
            proc.terminate()
            proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
