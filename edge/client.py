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
with a token sends a random nonce with each request and checks the
service's ``X-Sigpad-Proof`` (HMAC-SHA256 of the nonce under the token):
only the service holds the token. Without a token the HTTP answer is not
authenticated; use the socket when that matters.

The socket side needs only the standard library; the stream needs aiohttp
(the ``edge`` extra).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import pwd
import queue
import secrets
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ApiError, ServiceError

SERVICE_USER = "sigpad"
FINAL_EVENTS = {"decision", "enrolled", "captured", "error", "pong", "users", "deleted", "status",
                "ok", "cleared", "cancelled"}


@dataclass(frozen=True)
class Peer:
    """Who is at the other end of a Unix socket, as the kernel says."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} gid {self.gid}"


def peer_of(sock: socket.socket) -> Peer:
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                        struct.calcsize("3i")))
    return Peer(pid, uid, gid)


def trusted_service_uids() -> set[int]:
    """The uids a client accepts as the service: root, itself, and the ``sigpad`` user."""
    uids = {0, os.geteuid()}
    try:
        uids.add(pwd.getpwnam(SERVICE_USER).pw_uid)
    except KeyError:
        pass
    return uids


def token_proof(token: str, nonce: str) -> str:
    """HMAC-SHA256(token, nonce), hex: what the service answers to a nonce."""
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def runtime_dir() -> Path:
    """Where the service puts its socket: ``$RUNTIME_DIRECTORY`` (systemd), else
    ``$XDG_RUNTIME_DIR/sigpad``, else ``/tmp/sigpad-<uid>``."""
    if os.environ.get("RUNTIME_DIRECTORY"):
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "sigpad"
    return Path(f"/tmp/sigpad-{os.getuid()}")


def default_socket() -> Path:
    """The service's socket as a client finds it: the installed service's, else ``runtime_dir``'s."""
    installed = Path("/run/sigpad/control.sock")
    if not os.environ.get("RUNTIME_DIRECTORY") and installed.exists():
        return installed
    return runtime_dir() / "control.sock"


class ServiceClient:
    """The control socket: one request at a time, answers as dicts."""

    def __init__(self, path: str | os.PathLike | None = None, timeout_s: float = 90.0,
                 trusted_uids: set[int] | None = None):
        self.path = Path(path) if path is not None else default_socket()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout_s)
            self.sock.connect(str(self.path))
            self.peer = peer_of(self.sock)
            trusted = trusted_service_uids() if trusted_uids is None else trusted_uids
            if self.peer.uid not in trusted:
                raise ServiceError(f"{self.path}: the process behind it ({self.peer}) is not the sigpad "
                                   f"service (trusted uids: {sorted(trusted)}); not talking to it")
        except OSError:
            self.sock.close()
            raise
        self._file = self.sock.makefile("rb")

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, request: dict | str) -> None:
        line = request if isinstance(request, str) else json.dumps(request)
        self.sock.sendall(line.encode() + b"\n")

    def event(self) -> dict:
        line = self._file.readline()
        if not line:
            raise ConnectionError(f"{self.path}: the service closed the connection")
        return json.loads(line)

    def request(self, request: dict | str, on_event=None) -> dict:
        """Send one request; events before the answer go to ``on_event``; returns the answer."""
        self.send(request)
        while True:
            event = self.event()
            if event.get("event") in FINAL_EVENTS:
                return event
            if on_event is not None:
                on_event(event)

    def ping(self) -> dict:
        return self.request({"cmd": "ping"})

    def status(self) -> dict:
        return self.request({"cmd": "status"})

    def users(self) -> list[dict]:
        return self.request({"cmd": "users"})["users"]

    def verify(self, user: str, on_event=None, request_id: str | None = None) -> dict:
        return self.request(_with_id({"cmd": "verify", "user": user}, request_id), on_event)

    def enrol(self, user: str, replace: bool = False, on_event=None, request_id: str | None = None) -> dict:
        return self.request(_with_id({"cmd": "enrol", "user": user, "replace": replace}, request_id), on_event)

    def capture(self, on_event=None) -> dict:
        return self.request({"cmd": "capture"}, on_event)

    def delete(self, user: str) -> dict:
        return self.request({"cmd": "delete", "user": user})


def _with_id(request: dict, request_id: str | None) -> dict:
    return {**request, "request_id": request_id} if request_id else request


class HttpClient:
    """The web API (``/v1``). Errors raise ``ApiError`` with the HTTP status."""

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None,
                 token_file: str | os.PathLike | None = None, timeout_s: float = 90.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = f"http://{parts.netloc}"
        self.token = token if token is not None else (
            Path(token_file).read_text().strip() if token_file is not None else None)
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: dict | None = None, raw: bool = False):
        """One request; the decoded JSON answer (or bytes with ``raw``)."""
        headers = {"Accept": "application/json"}
        nonce = None
        if self.token is not None:
            nonce = secrets.token_hex(16)
            headers |= {"Authorization": f"Bearer {self.token}", "X-Sigpad-Nonce": nonce}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        if nonce is not None and not hmac.compare_digest(resp.getheader("X-Sigpad-Proof", ""),
                                                         token_proof(self.token, nonce)):
            raise ServiceError(f"{self.base}: the answer does not prove the token; not the sigpad service")
        if resp.status >= 400 and not (resp.status == 422 and not raw):
            try:
                message = json.loads(payload).get("error", "")
            except ValueError:
                message = payload[:200].decode(errors="replace")
            raise ApiError(f"{method} {path}: {resp.status} {message}", resp.status)
        return payload if raw else json.loads(payload)

    def status(self) -> dict:
        return self.call("GET", "/v1/status")

    def verify(self, user: str, request_id: str | None = None) -> dict:
        return self.call("POST", "/v1/verify", _with_id({"user": user}, request_id))

    def enrol(self, user: str, replace: bool = False, request_id: str | None = None) -> dict:
        return self.call("POST", "/v1/enrol", _with_id({"user": user, "replace": replace}, request_id))

    def capture(self, request_id: str | None = None) -> dict:
        return self.call("POST", "/v1/capture", _with_id({}, request_id))

    def ok(self) -> dict:
        return self.call("POST", "/v1/ok")

    def clear(self) -> dict:
        return self.call("POST", "/v1/clear")

    def cancel(self) -> dict:
        return self.call("POST", "/v1/cancel")

    def users(self) -> list[dict]:
        return self.call("GET", "/v1/users")["users"]

    def delete(self, user: str) -> dict:
        return self.call("DELETE", f"/v1/users/{user}")

    def image(self, capture_id: str, kind: str = "png") -> bytes:
        return self.call("GET", f"/v1/captures/{capture_id}.{kind}", raw=True)

    def recording(self, capture_id: str) -> dict:
        return self.call("GET", f"/v1/captures/{capture_id}.json")

    def stream(self, timeout_s: float = 10.0) -> EventStream:
        """The live event stream, open (its ``hello`` received)."""
        return EventStream(f"ws://{urlsplit(self.base).netloc}/v1/stream", timeout_s)


class EventStream:
    """The WebSocket stream as an iterator of event dicts (aiohttp, on a thread of its own)."""

    def __init__(self, url: str, timeout_s: float = 10.0):
        import asyncio
        self.url, self._events = url, queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),),
                                        name="sigpad-stream", daemon=True)
        self._thread.start()
        self.hello = self.next(timeout_s)
        if self.hello is None or self.hello.get("event") != "hello":
            raise ApiError(f"{url}: no stream ({self.hello})")

    async def _run(self) -> None:
        import aiohttp
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(self.url) as ws:
                self._ws = ws
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self._events.put(json.loads(msg.data))
        except (aiohttp.ClientError, OSError) as exc:
            self._events.put({"event": "stream-error", "error": str(exc)})
        finally:
            self._events.put(None)

    def next(self, timeout_s: float | None = None) -> dict | None:
        """The next event; None when the stream has ended; ``queue.Empty`` on timeout."""
        return self._events.get(timeout=timeout_s)

    def until(self, kind: str, timeout_s: float = 60.0) -> tuple[dict, list[dict]]:
        """Events up to the first of ``kind``: (that event, all seen)."""
        seen = []
        while True:
            event = self.next(timeout_s)
            if event is None:
                raise ConnectionError(f"{self.url}: the stream ended before {kind!r}")
            seen.append(event)
            if event.get("event") == kind:
                return event, seen

    def __iter__(self):
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

    def __exit__(self, *exc) -> None:
        self.close()
