"""The local web API and the kiosk page (aiohttp), beside the control socket.

API version 1 (``/v1/...``; docs/edge.md has the schema). Every answer is
JSON, errors as ``{"error": "...", "status": N}``.

======  ==========================  =====  ==========================================
method  path                        token  what
======  ==========================  =====  ==========================================
GET     /                                  the kiosk page (``kiosk/``)
GET     /v1/status                         pad, model, users, lockouts, busy, counters
GET     /v1/stream                         WebSocket: ink, pen, prompts, decisions
POST    /v1/verify                         {"user", "request_id"?} -> the decision
POST    /v1/capture                        {"request_id"?} -> a capture id
POST    /v1/ok, /v1/clear, /v1/cancel      the host's buttons
POST    /v1/enrol                   yes    {"user", "replace"?, "request_id"?}
GET     /v1/users                   yes    the enrolled users
DELETE  /v1/users/{user}            yes    delete a user
GET     /v1/captures/{id}.{png,svg,json}  yes  a captured signature: image (``?size=WxH``) or recording
======  ==========================  =====  ==========================================

Guards, in order, for every request: the ``Host`` must be the service's own
address (a DNS-rebinding page has another); an ``Origin``, when the client
sends one (browsers do for cross-site requests and every WebSocket), must
be the service's own page; routes marked "token" need
``Authorization: Bearer <token>`` with the token from the 0600 token file.
A client that sends ``X-Sigpad-Nonce`` gets ``X-Sigpad-Proof`` =
HMAC-SHA256(token, nonce) back, so a client holding the token can tell the
real service from anything else listening on the port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_protocol import RequestHandler

from firmware_bridge import recording

from ..errors import ConfigError, ServiceError
from ..wire import Message, same_token, token_proof
from . import render
from .hub import API_VERSION, Busy, Hub, NoPad
from .kiosk_web import add_kiosk_routes
from .operator_web import add_operator_routes

log = logging.getLogger("sigpad.service")
KIOSK_DIR = Path(__file__).resolve().parent / "kiosk"
KIOSK_FILES = {"/": ("index.html", "text/html"), "/kiosk.js": ("kiosk.js", "text/javascript"),
               "/kiosk.css": ("kiosk.css", "text/css")}
MAX_BODY = 64 * 1024
BACKLOG = 128
HUB, TOKEN, HOSTS = web.AppKey("hub", Hub), web.AppKey("token", str), web.AppKey("hosts", set)
_CAPTURE = re.compile(r"^([0-9a-f]{16})\.(png|svg|json)$")
_STATUS = {Busy: 409, NoPad: 503, ConfigError: 400}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "status": status, **extra}, status=status)


def own_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` values (and so origins) that name this service."""
    names = {host}
    try:
        if ipaddress.ip_address(host).is_loopback:
            names |= {"127.0.0.1", "localhost", "::1"}
    except ValueError:
        if host == "localhost":
            names |= {"127.0.0.1", "::1"}
    return {f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in names}


# --- the guards -------------------------------------------------------------------------------

TOKEN_ROUTES = {("POST", "/v1/enrol"), ("GET", "/v1/users")}


def needs_token(request: web.Request) -> bool:
    path = request.path
    return ((request.method, path) in TOKEN_ROUTES or path.startswith(("/v1/captures/", "/v1/operator/"))
            or (request.method == "DELETE" and path.startswith("/v1/users/")))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    app, hub = request.app, request.app[HUB]
    if request.host not in app[HOSTS]:
        hub.count("refused_host")
        log.warning("http: refused %s %s: Host %r is not this service's", request.method, request.path,
                    request.host)
        return json_error(403, "unexpected Host header (this service answers to its own address only)")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{h}" for h in app[HOSTS]}:
        hub.count("refused_origin")
        log.warning("http: refused %s %s from Origin %s", request.method, request.path, origin)
        return json_error(403, f"cross-origin request refused (Origin {origin})")
    if needs_token(request):
        auth = request.headers.get("Authorization", "")
        if not same_token(auth.removeprefix("Bearer ").strip() or None, app[TOKEN]):
            hub.count("refused_token")
            return json_error(401, "this request needs the token (Authorization: Bearer <token file>)")
    response = await handler(request)
    nonce = request.headers.get("X-Sigpad-Nonce")
    if nonce and len(nonce) <= 128 and not response.prepared:
        response.headers["X-Sigpad-Proof"] = token_proof(app[TOKEN], nonce)
    return response


async def _body(request: web.Request) -> Message:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body is not valid JSON", "status": 400}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object", "status": 400}),
                                 content_type="application/json")
    return body


async def _run(coro: Awaitable[Message]) -> web.Response:
    """A hub request as an HTTP answer: its event, or an error with its status."""
    try:
        event = await coro
    except (Busy, NoPad, ConfigError) as exc:
        return json_error(_STATUS[type(exc)], str(exc))
    status = 422 if event["event"] == "error" else 200
    return web.json_response(event, status=status)


# --- the routes -------------------------------------------------------------------------------

async def kiosk(request: web.Request) -> web.Response:
    name, kind = KIOSK_FILES[request.path]
    return web.Response(body=(KIOSK_DIR / name).read_bytes(), content_type=kind, headers={
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        "Cache-Control": "no-store"})


async def status(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(request.app[HUB].status))


async def verify(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body.get("user"), str):
        return json_error(400, 'a verify needs "user" (a string)')
    return await _run(request.app[HUB].verify(body["user"], body.get("request_id")))


async def enrol(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body.get("user"), str):
        return json_error(400, 'an enrolment needs "user" (a string)')
    return await _run(request.app[HUB].enrol(body["user"], bool(body.get("replace")), body.get("request_id")))


async def capture(request: web.Request) -> web.Response:
    body = await _body(request)
    return await _run(request.app[HUB].capture(body.get("request_id")))


async def button(request: web.Request) -> web.Response:
    return web.json_response(request.app[HUB].button(request.path.rsplit("/", 1)[1]))


async def users(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(lambda: [u.to_dict() for u in request.app[HUB].store.users()])
    return web.json_response({"users": rows})


async def delete_user(request: web.Request) -> web.Response:
    user = request.match_info["user"]
    found = await asyncio.to_thread(request.app[HUB].store.delete, user)
    return web.json_response({"user": user, "deleted": found}, status=200 if found else 404)


async def captured(request: web.Request) -> web.Response:
    m = _CAPTURE.match(request.match_info["name"])
    kept = request.app[HUB].captures.get(m.group(1)) if m else None
    if m is None or kept is None:
        return json_error(404, "no such capture (the service keeps the last few only)")
    kind = m.group(2)
    if kind == "json":
        return web.json_response(recording.to_dict(kept.signature, kept.protocol, kept.port, kept.caps))
    try:
        width, height = render.parse_size(request.query.get("size", "600x300"))
    except ValueError as exc:
        return json_error(400, str(exc))
    body = await asyncio.to_thread(render.render, kept.signature, kind, width=width, height=height)
    return web.Response(body=body, content_type="image/png" if kind == "png" else "image/svg+xml")


async def stream(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    queue = hub.subscribe()
    await ws.send_json({"event": "hello", "api": API_VERSION, "pad": hub.pad.info(), "busy": hub.request})
    reader = asyncio.ensure_future(_drain_incoming(ws))
    try:
        while not reader.done():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            text = getter.result()
            if text is None:              # dropped for falling behind
                break
            await ws.send_str(text)
    except (ConnectionError, RuntimeError):
        pass
    finally:
        hub.unsubscribe(queue)
        reader.cancel()
        await ws.close()
    return ws


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """The stream is one-way; read only to notice the close."""
    async for msg in ws:
        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


def make_app(hub: Hub, token: str, hosts: set[str]) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[HUB], app[TOKEN], app[HOSTS] = hub, token, hosts
    for path in KIOSK_FILES:
        app.router.add_get(path, kiosk)
    app.router.add_get("/v1/status", status)
    app.router.add_get("/v1/stream", stream)
    app.router.add_post("/v1/verify", verify)
    app.router.add_post("/v1/enrol", enrol)
    app.router.add_post("/v1/capture", capture)
    for name in ("ok", "clear", "cancel"):
        app.router.add_post(f"/v1/{name}", button)
    app.router.add_get("/v1/users", users)
    app.router.add_delete("/v1/users/{user}", delete_user)
    app.router.add_get("/v1/captures/{name}", captured)
    add_kiosk_routes(app, hub.cfg)
    add_operator_routes(app, hub)
    return app


class _Refuse(asyncio.Protocol):
    """Over ``max_clients``: a 503 and the door closed, before any parsing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):    # a stream server's: always
            transport.write(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        transport.close()


class WebServer:
    """The aiohttp app on ``host:port`` with at most ``max_clients`` connections."""

    def __init__(self, hub: Hub, token: str, host: str, port: int, max_clients: int, idle_timeout_s: float):
        self.hub, self.token, self.host, self.port = hub, token, host, port
        self.max_clients, self.idle_timeout_s = max_clients, idle_timeout_s
        self.runner: web.AppRunner | None = None
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        hosts: set[str] = set()
        app = make_app(self.hub, self.token, hosts)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                    keepalive_timeout=self.idle_timeout_s)
        await self.runner.setup()
        handlers = self.runner.server
        if handlers is None:                    # setup() makes it
            raise ServiceError("the web server was not set up")

        def connection() -> RequestHandler | _Refuse:
            if len(handlers.connections) >= self.max_clients:
                self.hub.count("refused_connections")
                return _Refuse()
            return handlers()
        try:
            self.server = await asyncio.get_running_loop().create_server(
                connection, self.host, self.port, backlog=BACKLOG, reuse_address=True)
        except OSError as exc:
            await self.runner.cleanup()
            raise ServiceError(f"cannot listen on http://{self.host}:{self.port}: {exc.strerror or exc} "
                               "(another service on that port? --http HOST:PORT or --http off)") from exc
        self.port = self.server.sockets[0].getsockname()[1]
        hosts |= own_hosts(self.host, self.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.runner is not None:
            await self.runner.cleanup()
