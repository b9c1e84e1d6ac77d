"""Header and body timeouts, in seconds (issue #23 item 4).

With ``header_timeout_s = 1`` and ``body_timeout_s = 1``: a client that
never finishes its headers is closed (it held its slot for the idle timeout
before, 300 s by default), and one that never finishes its body gets 408
in the JSON error shape. Bounds are generous (30 s): the test waits for
the event, it does not time it.
"""

from __future__ import annotations

import socket

import pytest
from service_harness import running

from edge.app.config import Config
from edge.client import ServiceClient


@pytest.fixture
def web(tmp_path, model_dir):
    (tmp_path / "run").mkdir(mode=0o700)
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="127.0.0.1:0",
                 header_timeout_s=1.0, body_timeout_s=1.0)
    with running(cfg, wait_pad=False):
        with ServiceClient(cfg.socket) as c:
            port = int(c.status()["url"].rsplit(":", 1)[1].strip("/"))
        yield port, (tmp_path / "run" / "http.token").read_text().strip()


def read_all(s: socket.socket) -> bytes:
    s.settimeout(30)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    return data


def test_unfinished_headers_are_closed_after_the_header_timeout(web):
    port, _token = web
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())   # no blank line
        assert read_all(s) == b""                     # closed, with nothing to say


def test_an_unfinished_body_is_a_408(web):
    port, token = web
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\": ".encode())
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert answer.rstrip().endswith(b'{"error": "the body did not arrive within 1 s", "status": 408}'), answer


def test_a_websocket_that_answers_no_ping_is_closed(tmp_path, model_dir, monkeypatch):
    import asyncio

    import aiohttp

    from edge.app import web as web_module
    monkeypatch.setattr(web_module, "HEARTBEAT_S", 1.0)           # 20 s in service
    (tmp_path / "run").mkdir(mode=0o700)
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="127.0.0.1:0")
    with running(cfg, wait_pad=False):
        with ServiceClient(cfg.socket) as c:
            url = c.status()["url"].replace("http", "ws") + "v1/stream"
        token = (tmp_path / "run" / "kiosk.token").read_text().strip()

        async def deaf() -> list[aiohttp.WSMsgType]:
            async with aiohttp.ClientSession() as s, s.ws_connect(url, autoping=False) as ws:
                await ws.send_json({"auth": token})
                kinds = []
                while not ws.closed and len(kinds) < 50:          # pings, then the close
                    kinds.append((await ws.receive(timeout=30)).type)
                return kinds
        kinds = asyncio.run(deaf())
    assert aiohttp.WSMsgType.PING in kinds and kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
