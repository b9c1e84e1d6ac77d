"""No client can starve the rest (issue #23 item 4).

A real service (``max_clients`` 64, so 4 reserved slots beyond), a crowd on
loopback from many source addresses (all of 127/8 reaches the service):
200 WebSockets that never send a token and 200 slow clients that never
finish their headers. Meanwhile ``/v1/status`` (bare and with a token) and
a verify, signed on the virtual pad, still get through. One address alone
gets a quarter of the room (16); the rest is refused at once. Everything is
closed at the end; the loops are bounded. The counts are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import http.client
import json
from collections import defaultdict

import aiohttp
import pytest
from helpers.waiting import wait_for
from service_harness import JUDGED, enrol_directly, http_client, running

from edge.app.config import Config
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.data]
CROWD = 200


@pytest.fixture
def service(tmp_path, model_dir):
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0")
        enrol_directly(cfg, "writer")
        with running(cfg):
            yield vpad, http_client(cfg)


async def idle_websocket(port: int, source: str, outcomes: dict[str, int], held: list) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    held.append(session)
    try:
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}/v1/stream", timeout=aiohttp.ClientWSTimeout(30))
        held.append(ws)
        outcomes["ws held"] += 1
    except aiohttp.WSServerHandshakeError as exc:
        outcomes[f"ws refused {exc.status}"] += 1
    except (aiohttp.ClientError, OSError):
        outcomes["ws refused at once"] += 1


async def slow_client(port: int, source: str, outcomes: dict[str, int], held: list) -> None:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        outcomes["slow refused at once"] += 1
        return
    writer.write(f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())   # never finished
    held.append(writer)
    outcomes["slow held"] += 1


def bare_status(port: int) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/v1/status")
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_a_crowd_of_idle_websockets_and_slow_clients_starves_nobody(service, sig):
    vpad, api = service
    port = api.port

    async def scenario():
        outcomes: defaultdict[str, int] = defaultdict(int)
        held: list = []
        try:
            await asyncio.gather(*(idle_websocket(port, f"127.0.1.{10 + i}", outcomes, held)
                                   for i in range(CROWD)))
            await asyncio.gather(*(slow_client(port, f"127.0.2.{10 + i}", outcomes, held)
                                   for i in range(CROWD)))
            status = await asyncio.to_thread(bare_status, port)
            full = await asyncio.to_thread(api.status)
            verdict = asyncio.ensure_future(asyncio.to_thread(api.verify, "writer"))
            await asyncio.to_thread(wait_for, lambda: api.status()["busy"] is not None, "the verify arms the pad")
            await asyncio.to_thread(vpad.sign, sig(1, 8))
            decision = await asyncio.wait_for(verdict, 60)
            return dict(outcomes), status, full, decision
        finally:
            for thing in reversed(held):
                closing = thing.close()
                if asyncio.iscoroutine(closing):
                    await closing
    outcomes, status, full, decision = asyncio.run(scenario())
    counters = full["counters"]
    print(f"\ncrowd of {CROWD} idle WebSockets + {CROWD} slow clients: {outcomes}; "
          f"evicted_idle={counters.get('evicted_idle', 0)}, refused_connections="
          f"{counters.get('refused_connections', 0)}; status {status[0]}, verify {decision['reason']}")
    assert sum(outcomes.values()) == 2 * CROWD
    assert status == (200, {"api": 1, "up": True})
    assert full["pad"]["present"] is True
    assert decision["event"] == "decision" and decision["reason"] in JUDGED
    assert counters.get("evicted_idle", 0) > 0            # the room was made by closing idle slots


def test_one_address_gets_a_quarter_of_the_room(service):
    _vpad, api = service

    async def crowd() -> list[bytes]:
        pairs = [await asyncio.open_connection("127.0.0.1", api.port, local_addr=("127.0.3.1", 0))
                 for _ in range(30)]
        try:                                    # the refused ones are answered at once, then closed
            return [await asyncio.wait_for(reader.read(), 30) for reader, _w in pairs[16:]]
        finally:
            for _r, writer in pairs:
                writer.close()
    answers = asyncio.run(crowd())
    assert all(a.startswith(b"HTTP/1.1 503 ") for a in answers) and len(answers) == 14
    assert api.status()["counters"]["refused_peer"] == 14          # 30 from one address, 16 held
