"""``sigpad serve`` stops at once with page and WebSocket clients connected (issue #22 item 1).

The real service in its own process; three authenticated stream clients and
an idle keep-alive connection; SIGTERM. The process must exit well within
systemd's ``TimeoutStopSec=10s`` (it took 45-48 s with a kiosk page
connected), each stream client must get a close frame (1001, going away),
and the log must hold no asyncio "Task was destroyed" warning (a fourth
stream client has come and gone before). The stop
time is printed (``-s``), not asserted tighter than the bound.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[3]
STOP_BOUND_S = 10.0                   # systemd's TimeoutStopSec in deploy/sigpad.service


def start_serve(tmp_path: Path, model_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """The service (no pad needed for the web side), its kiosk URL from stderr, its log."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge.app.cli", "serve", "--port", str(tmp_path / "no-pad"),
                                 "--socket", str(run / "c.sock"), "--http", "127.0.0.1:0",
                                 "--store", str(tmp_path / "t.db"), "--model", str(model_dir)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=out,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not (found := re.search(r"kiosk page .*?: (http://\S+)", log.read_text())):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc, found.group(1), log


async def hold_streams(base: str, token: str, count: int, ready: asyncio.Event,
                       closes: list[int | None]) -> None:
    async def one(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(f"{base.replace('http', 'ws')}v1/stream") as ws:
            await ws.send_json({"auth": token})
            assert (await ws.receive_json(timeout=30))["event"] == "hello"
            held.append(ws)
            if len(held) == count:
                ready.set()
            msg = await ws.receive(timeout=60)
            closes.append(ws.close_code if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                                        aiohttp.WSMsgType.CLOSING) else None)
    held: list[aiohttp.ClientWebSocketResponse] = []
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session) for _ in range(count)))


def test_serve_stops_within_the_bound_with_stream_clients_connected(tmp_path, model_dir):
    proc, url, log = start_serve(tmp_path, model_dir)
    try:
        base, _, fragment = url.partition("#")
        token = (tmp_path / "run" / "kiosk.token").read_text().strip()
        assert fragment == f"k={token}"                  # the kiosk URL carries its token in the fragment

        async def scenario() -> tuple[float, list[int | None]]:
            ready, closes = asyncio.Event(), []
            async with aiohttp.ClientSession() as s, s.ws_connect(f"{base.replace('http', 'ws')}v1/stream") as ws:
                await ws.send_json({"auth": token})
                assert (await ws.receive_json(timeout=30))["event"] == "hello"    # and leaves
            streams = asyncio.ensure_future(hold_streams(base, token, 3, ready, closes))
            await asyncio.wait_for(ready.wait(), 30)
            reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1].strip("/")))
            writer.write(b"GET /v1/status HTTP/1.1\r\nHost: " + base.split("//")[1].strip("/").encode()
                         + b"\r\n\r\n")       # answered, then an idle keep-alive connection
            await reader.readuntil(b"\r\n\r\n")
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            while proc.poll() is None and time.monotonic() - start < STOP_BOUND_S + 5:
                await asyncio.sleep(0.02)
            stopped = time.monotonic() - start
            await asyncio.wait_for(streams, 30)
            writer.close()
            return stopped, closes
        stopped, closes = asyncio.run(scenario())
        print(f"\nsigpad serve stopped {stopped:.2f} s after SIGTERM with 3 stream clients and 1 idle connection")
        assert proc.returncode == 0 and stopped < STOP_BOUND_S, log.read_text()
        assert closes == [1001, 1001, 1001]
        text = log.read_text()
        assert "Task was destroyed" not in text and "Traceback" not in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("address", ["0.0.0.0:0", "192.0.2.1:0"])
def test_serving_beyond_loopback_without_tls_is_refused_naming_the_fix(tmp_path, model_dir, address):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    r = subprocess.run([sys.executable, "-m", "edge.app.cli", "serve", "--port", str(tmp_path / "no-pad"),
                        "--socket", str(run / "c.sock"), "--http", address,
                        "--store", str(tmp_path / "t.db"), "--model", str(model_dir)],
                       cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 2, r.stderr
    assert "needs TLS: set [service] tls_cert and tls_key" in r.stderr
    assert not (run / "c.sock").exists()
