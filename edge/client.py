"""A client for ``sigpad serve``: the control socket, the web API and the ink stream.

    from edge.client import ServiceClient, HttpClient

    with ServiceClient() as svc:                       # $RUNTIME_DIRECTORY/control.sock ...
        svc.enrol("alice", on_event=print)             # prompts as they come
        decision = svc.verify("alice")                 # {"event": "decision", "accepted": ...}

    api = HttpClient("http://127.0.0.1:8765", token_file="/run/sigpad/http.token")
    with api.stream() as events:                       # the WebSocket: ink, prompts, decisions
        answer = api.verify("alice")                   # blocks until the writer has signed
        png = api.image(answer["capture_id"], "png")

**Is it the real service?** ``ServiceClient`` asks the kernel who is at the
other end of the socket (``SO_PEERCRED``) and refuses a peer that is not
root, the client's own user or the ``sigpad`` user: a socket planted by
someone else in a directory they control is not trusted. ``HttpClient``
with a token proves the service *before* the token leaves: on each new
connection it first sends a random nonce alone (``GET /v1/status``), checks
the service's ``X-Sigpad-Proof`` (HMAC-SHA256 of the nonce under the
token: only the service holds the token), and only then sends its request
with ``Authorization`` on that same connection; the stream likewise checks
the proof on the WebSocket's upgrade before it sends ``{"auth": TOKEN}``.
Without a token the HTTP answer is not authenticated; use the socket when
that matters. Where the socket is, how
its lines are framed and these checks are ``edge.wire``'s, shared with the
service.

The socket side needs only the standard library; the stream needs aiohttp
(the ``edge`` extra).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import secrets
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from . import wire
from .errors import ApiError, ServiceError
from .wire import FINAL_EVENTS, Message, runtime_dir

if TYPE_CHECKING:
    import aiohttp

__all__ = ["FINAL_EVENTS", "EventStream", "HttpClient", "Message", "OnEvent", "ServiceClient", "runtime_dir"]

OnEvent = Callable[[Message], object]
"""Called with each event that comes before the answer (prompts, ink)."""


class ServiceClient:
    """The control socket: one request at a time, answers as dicts."""

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout_s: float = 90.0,
                 trusted_uids: set[int] | None = None):
        self.path = wire.find_socket(Path(path) if path is not None else None)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout_s)
            self.sock.connect(str(self.path))
            self.peer = wire.peer_of(self.sock)
            wire.check_service_peer(self.peer, self.path, trusted_uids)
        except OSError:
            self.sock.close()
            raise
        self._file = self.sock.makefile("rb")

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Mapping[str, Any] | str) -> None:
        self.sock.sendall(wire.encode(request))

    def event(self) -> Message:
        line = self._file.readline()
        if not line:
            raise ConnectionError(f"{self.path}: the service closed the connection")
        return wire.decode(line)

    def request(self, request: Mapping[str, Any] | str, on_event: OnEvent | None = None) -> Message:
        """Send one request; events before the answer go to ``on_event``; returns the answer."""
        self.send(request)
        while True:
            event = self.event()
            if wire.is_final(event):
                return event
            if on_event is not None:
                on_event(event)

    def ping(self) -> Message:
        return self.request({"cmd": "ping"})

    def status(self) -> Message:
        return self.request({"cmd": "status"})

    def users(self) -> list[Message]:
        return _rows(self.request({"cmd": "users"}), "users")

    def verify(self, user: str, on_event: OnEvent | None = None, request_id: str | None = None) -> Message:
        return self.request(_with_id({"cmd": "verify", "user": user}, request_id), on_event)

    def enrol(self, user: str, replace: bool = False, on_event: OnEvent | None = None,
              request_id: str | None = None) -> Message:
        return self.request(_with_id({"cmd": "enrol", "user": user, "replace": replace}, request_id), on_event)

    def capture(self, on_event: OnEvent | None = None) -> Message:
        return self.request({"cmd": "capture"}, on_event)

    def delete(self, user: str) -> Message:
        return self.request({"cmd": "delete", "user": user})


def _with_id(request: Message, request_id: str | None) -> Message:
    return {**request, "request_id": request_id} if request_id else request


def _rows(answer: Message, key: str) -> list[Message]:
    """``answer[key]``, a list of objects (``ServiceError`` if it is something else)."""
    rows = answer[key]
    if not isinstance(rows, list):
        raise ServiceError(f"the service's answer has no list {key!r}: {answer}")
    return rows


class HttpClient:
    """The web API (``/v1``). Errors raise ``ApiError`` with the HTTP status."""

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None,
                 token_file: str | os.PathLike[str] | None = None, timeout_s: float = 90.0,
                 tls: ssl.SSLContext | None = None):
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (443 if self.https else 80)
        self.base = f"{'https' if self.https else 'http'}://{parts.netloc}"
        self.tls = tls if tls is not None else (ssl.create_default_context() if self.https else None)
        self.token = token if token is not None else (
            Path(token_file).read_text().strip() if token_file is not None else None)
        self.timeout_s = timeout_s

    @overload
    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             raw: Literal[False] = False) -> Message: ...

    @overload
    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
             raw: Literal[True]) -> bytes: ...

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             raw: bool = False) -> Message | bytes:
        """One request; the decoded JSON answer (or bytes with ``raw``)."""
        status, payload = self._exchange(method, path, body)
        if status >= 400 and not (status == 422 and not raw):
            raise ApiError(f"{method} {path}: {status} {_error_of(payload)}", status)
        return payload if raw else wire.decode(payload)

    def _exchange(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, bytes]:
        """(HTTP status, body) of one request; with a token, the service proven first (``_prove``)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            if self.token is not None:
                self._prove(conn)
                headers["Authorization"] = f"Bearer {self.token}"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        return resp.status, payload

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _prove(self, conn: http.client.HTTPConnection) -> None:
        """A nonce alone on ``conn``; ``ServiceError`` unless the answer proves our token. The
        connection is then pinned (no silent reconnect), so the token goes to the proven peer only."""
        assert self.token is not None
        nonce = secrets.token_hex(16)
        conn.request("GET", "/v1/status", headers={"X-Sigpad-Nonce": nonce, "Accept": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status == 503 and not resp.getheader("X-Sigpad-Proof"):
            raise ApiError(f"{self.base}: 503 no room for another connection; try again later "
                           "(the token was not sent)", 503)
        if not wire.proves_token(resp.getheader("X-Sigpad-Proof", ""), self.token, nonce):
            raise ServiceError(f"{self.base}: the answer does not prove the token; not the sigpad service "
                               "(the token was not sent)")
        if resp.will_close:
            raise ServiceError(f"{self.base}: the service closed the proven connection")
        conn.auto_open = 0                  # a reconnect would reach a peer nobody proved

    def status(self) -> Message:
        return self.call("GET", "/v1/status")

    def verify(self, user: str, request_id: str | None = None) -> Message:
        return self.call("POST", "/v1/verify", _with_id({"user": user}, request_id))

    def enrol(self, user: str, replace: bool = False, request_id: str | None = None) -> Message:
        return self.call("POST", "/v1/enrol", _with_id({"user": user, "replace": replace}, request_id))

    def capture(self, request_id: str | None = None) -> Message:
        return self.call("POST", "/v1/capture", _with_id({}, request_id))

    def ok(self) -> Message:
        return self.call("POST", "/v1/ok")

    def clear(self) -> Message:
        return self.call("POST", "/v1/clear")

    def cancel(self) -> Message:
        return self.call("POST", "/v1/cancel")

    def users(self) -> list[Message]:
        return _rows(self.call("GET", "/v1/users"), "users")

    def delete(self, user: str) -> Message:
        return self.call("DELETE", f"/v1/users/{user}")

    def image(self, capture_id: str, kind: str = "png") -> bytes:
        return self.call("GET", f"/v1/captures/{capture_id}.{kind}", raw=True)

    def recording(self, capture_id: str) -> Message:
        return self.call("GET", f"/v1/captures/{capture_id}.json")

    def stream(self, timeout_s: float = 10.0) -> EventStream:
        """The live event stream, open (its ``hello`` received)."""
        scheme = "wss" if self.https else "ws"
        return EventStream(f"{scheme}://{urlsplit(self.base).netloc}/v1/stream", timeout_s, self.token, self.tls)


def _error_of(payload: bytes) -> str:
    """What an error answer says: its JSON ``error``, else the start of its text."""
    try:
        return str(json.loads(payload).get("error", ""))
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace")


class EventStream:
    """The WebSocket stream as an iterator of event dicts (aiohttp, on a thread of its own)."""

    def __init__(self, url: str, timeout_s: float = 10.0, token: str | None = None,
                 tls: ssl.SSLContext | None = None):
        import asyncio
        self.url, self.token, self.tls = url, token, tls
        self._events: queue.Queue[Message | None] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),),
                                        name="sigpad-stream", daemon=True)
        self._thread.start()
        self.hello = self.next(timeout_s)
        if self.hello is None or self.hello.get("event") != "hello":
            raise ApiError(f"{url}: no stream ({self.hello})")

    async def _run(self) -> None:
        import aiohttp
        nonce = secrets.token_hex(16)
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(
                    self.url, headers={"X-Sigpad-Nonce": nonce}, ssl=self.tls if self.tls else True) as ws:
                self._ws = ws
                if self.token is not None:
                    await self._authenticate(ws, nonce)
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self._events.put(json.loads(msg.data))
        except (aiohttp.ClientError, OSError, ServiceError) as exc:
            self._events.put({"event": "stream-error", "error": str(exc)})
        finally:
            self._events.put(None)

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse, nonce: str) -> None:
        """The token as the first message, once the upgrade's answer proved the service holds it."""
        assert self.token is not None
        upgrade = ws._response              # aiohttp keeps the handshake's answer only here
        if not wire.proves_token(upgrade.headers.get("X-Sigpad-Proof", ""), self.token, nonce):
            raise ServiceError(f"{self.url}: the upgrade does not prove the token; not the sigpad service "
                               "(the token was not sent)")
        await ws.send_json({"auth": self.token})

    def next(self, timeout_s: float | None = None) -> Message | None:
        """The next event; None when the stream has ended; ``queue.Empty`` on timeout."""
        return self._events.get(timeout=timeout_s)

    def until(self, kind: str, timeout_s: float = 60.0) -> tuple[Message, list[Message]]:
        """Events up to the first of ``kind``: (that event, all seen)."""
        seen = []
        while True:
            event = self.next(timeout_s)
            if event is None:
                raise ConnectionError(f"{self.url}: the stream ended before {kind!r}")
            seen.append(event)
            if event.get("event") == kind:
                return event, seen

    def __iter__(self) -> Iterator[Message]:
        while (event := self.next()) is not None:
            yield event

    def close(self) -> None:
        import asyncio
        if self._ws is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
