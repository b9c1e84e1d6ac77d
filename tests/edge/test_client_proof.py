"""``HttpClient`` proves the service before its token leaves (issue #23 item 5).

An impostor on a port answers everything with 200 and a made-up proof, and
records what it receives. The client must stop with ``ServiceError`` and
the impostor must never see the token, on any request.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from edge.client import HttpClient
from edge.errors import ServiceError

TOKEN = "5" * 64


class Impostor(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Impostor.seen.append(f"{self.requestline}\n{self.headers}\n{self.rfile.read(length).decode()}")
        body = b'{"users": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Sigpad-Proof", "0" * 64)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor():
    Impostor.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("call", ["users", "status", "verify", "enrol", "delete"])
def test_the_token_never_reaches_an_impostor(impostor, call):
    api = HttpClient(impostor, token=TOKEN)
    args = {"verify": ("alice",), "enrol": ("alice",), "delete": ("alice",)}.get(call, ())
    with pytest.raises(ServiceError, match="does not prove the token.*not sent"):
        getattr(api, call)(*args)
    assert len(Impostor.seen) == 1                       # the nonce alone, then nothing
    assert "X-Sigpad-Nonce" in Impostor.seen[0]
    assert TOKEN not in "".join(Impostor.seen) and "Authorization" not in "".join(Impostor.seen)
