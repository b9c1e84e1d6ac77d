"""The local web API and the kiosk page (aiohttp), beside the control socket.

API version 1 (``/v1/...``; docs/edge.md has the schema, and the service
serves it as OpenAPI 3.1 at ``/v1/openapi.json``, built from this route
table). Every answer is JSON, errors as ``{"error": "...", "status": N}``.

======  ==========================  ============================  ==============================
method  path                        who (``credentials``)          what
======  ==========================  ============================  ==============================
GET     /, /operator, *.js, *.css   anyone (no data in them)       the kiosk and operator pages
GET     /v1/openapi.json            anyone                         this API's contract
GET     /v1/status                  anyone; details by role        up; pad, model, users, lockouts
GET     /v1/kiosk                   kiosk, operator, integrator    the signer's page's words
GET     /v1/stream                  kiosk, operator, integrator    WebSocket: prompts, ink, verdicts
POST    /v1/verify                  integrator                     {"user", "request_id"?}
POST    /v1/capture                 integrator                     {"request_id"?} -> a capture id
POST    /v1/ok, /v1/clear, /cancel  kiosk, integrator              the host's buttons
POST    /v1/enrol                   operator, integrator           {"user", "replace"?, "request_id"?}
GET     /v1/users                   operator, integrator           the enrolled users
DELETE  /v1/users/{user}            operator, integrator           delete a user
GET     /v1/fleet                   operator, integrator           the fleet: link, lag, outbox, last sync
GET     /v1/operator/overview       operator, integrator           users, locks, recent decisions
GET     /v1/operator/history/{u}    operator, integrator           a user's decisions
POST    /v1/operator/unlock         operator, integrator           {"user"}
GET     /v1/captures/{id}.{ext}     integrator                     a captured signature (``?size=WxH``)
======  ==========================  ============================  ==============================

The guards (``web_guard``: Host, Origin, credential, room, body schema)
run before every handler; a route whose handler declares no role is
refused to everyone.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from firmware_bridge import recording

from ..errors import ConfigError, FleetError, ServiceError
from . import api, render
from .credentials import INTEGRATOR, KIOSK, OPERATOR, public, requires
from .hub import API_VERSION, Busy, Hub, NoPad
from .kiosk_web import add_kiosk_routes
from .operator_web import add_operator_routes
from .web_guard import (
    BODY,
    BODY_TIMEOUT,
    COUNT,
    EXPOSED,
    HOSTS,
    LIMITS,
    ROLE,
    TOKENS,
    checked_body,
    first_message_auth,
    guard,
    json_error,
    proof_for,
    read_body,
    role_of_token,
)
from .web_limits import Limits, listen

log = logging.getLogger("sigpad.service")
KIOSK_DIR = Path(__file__).resolve().parent / "kiosk"
KIOSK_FILES = {"/": ("index.html", "text/html"), "/kiosk.js": ("kiosk.js", "text/javascript"),
               "/kiosk.css": ("kiosk.css", "text/css")}
MAX_BODY = 64 * 1024
HUB = web.AppKey("hub", Hub)
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
HEARTBEAT_S = 20.0                  # a WebSocket that answers no ping within half of this is closed
AUTH_WAIT_S = 5.0                   # the WebSocket's first message, its token, must come this soon
CLOSE_UNAUTHORISED = 4401
_CAPTURE = re.compile(r"^([0-9a-f]{16})\.(png|svg|json)$")
_STATUS = {Busy: 409, NoPad: 503, ConfigError: 400}
SIGNER_FIELDS = frozenset({"event", "request_id", "message", "accepted", "reason", "present", "aspect",
                           "pressure", "down", "t_ms", "x", "y", "nx", "ny", "p", "api", "pad", "busy"})
"""What the kiosk's stream carries: what the signer sees, never scores, thresholds or user ids."""


def own_hosts(host: str, port: int, names: tuple[str, ...] = ()) -> set[str]:
    """The ``Host`` values (and so origins) that name this service: never a wildcard address."""
    found = set(names)
    try:
        address = ipaddress.ip_address(host)
        if address.is_loopback or address.is_unspecified:     # a wildcard serves loopback too
            found |= {"127.0.0.1", "localhost", "::1"}
        if not address.is_unspecified:
            found.add(host)
    except ValueError:
        found.add(host)
        if host == "localhost":
            found |= {"127.0.0.1", "::1"}
    return {f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in found}


async def _body(request: web.Request) -> dict[str, Any]:
    """The body the guard checked (a declared schema), else read and checked against ``api.EMPTY``."""
    return checked_body(request) if BODY in request else await read_body(request, request.app[BODY_TIMEOUT])


async def _run(coro: Awaitable[dict[str, Any]]) -> web.Response:
    """A hub request as an HTTP answer: its event, or an error with its status."""
    try:
        event = await coro
    except (Busy, NoPad, ConfigError) as exc:
        return json_error(_STATUS[type(exc)], str(exc))
    if event["event"] == "error":           # the documented error shape, with the event's fields
        return web.json_response({**event, "status": 422}, status=422)
    return web.json_response(event)


# --- the routes -------------------------------------------------------------------------------

@public
async def kiosk(request: web.Request) -> web.Response:
    """The kiosk page's files (no data in them: the page reads its token from the URL fragment)."""
    name, kind = KIOSK_FILES[request.path]
    return web.Response(body=(KIOSK_DIR / name).read_bytes(), content_type=kind, headers={
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@public
async def openapi(request: web.Request) -> web.Response:
    """This API's contract (OpenAPI 3.1), built from the routes served."""
    return web.json_response(api.openapi(request.app, "sigpad edge API", str(API_VERSION)))


@public
async def status(request: web.Request) -> web.Response:
    """Up, and, to the operator and the integrator, pad, model, users, lockouts, busy, counters."""
    role = request[ROLE]
    if role in (OPERATOR, INTEGRATOR):
        return web.json_response(await asyncio.to_thread(request.app[HUB].status))
    answer: dict[str, Any] = {"api": API_VERSION, "up": True}
    if role == KIOSK:                   # what the signer's page draws with: the pad, no user
        answer["pad"] = request.app[HUB].pad.info()
    return web.json_response(answer)


@requires(INTEGRATOR)
@api.accepts(api.VERIFY)
@api.answers(api.DECISION)
async def verify(request: web.Request) -> web.Response:
    """Verify a user's signature: arms the pad, answers with the decision."""
    body = await _body(request)
    return await _run(request.app[HUB].verify(body["user"], body.get("request_id")))


@requires(OPERATOR, INTEGRATOR)
@api.accepts(api.ENROL)
async def enrol(request: web.Request) -> web.Response:
    """Enrol a user from [enrol] count signatures (3..12, 5 by default) on the pad."""
    body = await _body(request)
    return await _run(request.app[HUB].enrol(body["user"], body.get("replace", False), body.get("request_id")))


@requires(INTEGRATOR)
@api.accepts(api.CAPTURE)
async def capture(request: web.Request) -> web.Response:
    """One signature, not judged: its capture id."""
    body = await _body(request)
    return await _run(request.app[HUB].capture(body.get("request_id")))


@requires(KIOSK, INTEGRATOR)
@api.accepts(api.EMPTY)
async def button(request: web.Request) -> web.Response:
    """The host's buttons: OK, Clear, Cancel."""
    await _body(request)
    return web.json_response(request.app[HUB].button(request.path.rsplit("/", 1)[1]))


@requires(OPERATOR, INTEGRATOR)
async def users(request: web.Request) -> web.Response:
    """The enrolled users."""
    rows = await asyncio.to_thread(lambda: [u.to_dict() for u in request.app[HUB].store.users()])
    return web.json_response({"users": rows})


@requires(OPERATOR, INTEGRATOR)
async def delete_user(request: web.Request) -> web.Response:
    """Delete a user and their templates."""
    user = request.match_info["user"]
    try:
        api.check(user, api.USER_ID, "user")
    except api.BadBody as exc:
        return json_error(400, str(exc))
    try:
        found = await asyncio.to_thread(request.app[HUB].delete_user, user)
    except FleetError as exc:
        return json_error(403, str(exc), user=user, deleted=False)
    if not found:
        return json_error(404, f"no user {user!r}", user=user, deleted=False)
    return web.json_response({"user": user, "deleted": True})


@requires(OPERATOR, INTEGRATOR)
async def fleet(request: web.Request) -> web.Response:
    """The fleet, for a member: connected?, lag, outbox depth, last sync, model; null if not joined."""
    hub = request.app[HUB]
    return web.json_response({"fleet": None if hub.fleet is None else await asyncio.to_thread(hub.fleet.summary)})


@requires(INTEGRATOR)
async def captured(request: web.Request) -> web.Response:
    """A captured signature as PNG, SVG or a recording."""
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


@requires(KIOSK, OPERATOR, INTEGRATOR)
@first_message_auth
async def stream(request: web.Request) -> web.WebSocketResponse:
    """WebSocket: prompts, pen, ink and verdicts (the kiosk's: what the signer sees)."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096, timeout=1.0)
    proof = proof_for(request)
    if proof is not None:                 # the proof on the upgrade: the client checks it before its token
        ws.headers["X-Sigpad-Proof"] = proof
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    unproven, transport = request.app[LIMITS].unproven, request.transport
    try:
        if request[ROLE] is None and transport is not None:
            unproven.add(transport)               # holds a slot for nothing yet: may be closed for room
        role = request[ROLE] or await _first_message_role(ws, request.app[TOKENS])
        if transport is not None:
            unproven.discard(transport)
        if role is None:
            request.app[COUNT]("refused_token")
            await ws.close(code=CLOSE_UNAUTHORISED, message=b"a credential first: {\"auth\": TOKEN}")
        else:
            await _relay(ws, request.app[HUB], role)
    finally:
        if transport is not None:
            unproven.discard(transport)
        request.app[SOCKETS].discard(ws)
        await ws.close()
    return ws


async def _first_message_role(ws: web.WebSocketResponse, tokens: dict[str, str]) -> str | None:
    """The role of the token in the first message, ``{"auth": TOKEN}``, if it comes within AUTH_WAIT_S."""
    try:
        msg = await ws.receive(AUTH_WAIT_S)
        given = json.loads(msg.data).get("auth") if msg.type == WSMsgType.TEXT else None
    except (TimeoutError, ValueError, AttributeError, RecursionError):   # nested JSON from a stranger too
        return None
    return role_of_token(given if isinstance(given, str) and given.isascii() else None, tokens)


async def _relay(ws: web.WebSocketResponse, hub: Hub, role: str) -> None:
    """The hub's events to ``ws`` until either side goes; the kiosk's cut to what the signer sees."""
    def shown(event: dict[str, Any]) -> dict[str, Any]:
        return event if role != KIOSK else {k: v for k, v in event.items() if k in SIGNER_FIELDS}
    queue = hub.subscribe()
    await ws.send_json(shown({"event": "hello", "api": API_VERSION, "pad": hub.pad.info(),
                              "busy": hub.request if role != KIOSK else hub.request is not None}))
    reader = asyncio.ensure_future(_drain_incoming(ws))
    getter: asyncio.Future[str | None] | None = None
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
            await ws.send_str(text if role != KIOSK else json.dumps(shown(json.loads(text))))
    except (ConnectionError, RuntimeError):
        pass
    finally:
        hub.unsubscribe(queue)
        reader.cancel()
        if getter is not None:
            getter.cancel()   # the handler itself cancelled at shutdown: no pending task left behind


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """The stream is one-way; read only to notice the close."""
    async for msg in ws:
        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


def make_app(hub: Hub, tokens: dict[str, str], hosts: set[str], limits: Limits,
             body_timeout_s: float = 10.0, exposed: bool = False) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[HUB], app[TOKENS], app[HOSTS], app[LIMITS], app[COUNT] = hub, tokens, hosts, limits, hub.count
    app[SOCKETS], app[BODY_TIMEOUT], app[EXPOSED] = set(), body_timeout_s, exposed
    for path in KIOSK_FILES:
        app.router.add_get(path, kiosk)
    app.router.add_get("/v1/openapi.json", openapi)
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
    app.router.add_get("/v1/fleet", fleet)
    add_kiosk_routes(app, hub.cfg)
    add_operator_routes(app, hub)
    return app


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class WebServer:
    """The aiohttp app on ``host:port``: TLS when given, the limits of ``web_limits``."""

    def __init__(self, hub: Hub, tokens: dict[str, str], host: str, port: int, limits: Limits,
                 tls: ssl.SSLContext | None = None, hostnames: tuple[str, ...] = (), body_timeout_s: float = 10.0):
        self.hub, self.tokens, self.host, self.port = hub, tokens, host, port
        self.limits, self.tls, self.hostnames, self.body_timeout_s = limits, tls, hostnames, body_timeout_s
        self.runner: web.AppRunner | None = None
        self.server: asyncio.Server | None = None
        self.app: web.Application | None = None

    async def start(self) -> None:
        hosts: set[str] = set()
        self.app = make_app(self.hub, self.tokens, hosts, self.limits, self.body_timeout_s,
                            exposed=not _is_loopback(self.host))
        # keepalive_timeout runs from the connection's start: a request's headers must come this soon
        self.runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None,
                                    keepalive_timeout=self.limits.header_timeout_s, shutdown_timeout=1.0)
        await self.runner.setup()
        try:
            self.server = await listen(self.runner, self.limits, self.host, self.port, self.tls)
        except OSError as exc:
            await self.runner.cleanup()
            raise ServiceError(f"cannot listen on {self.url}: {exc.strerror or exc} "
                               "(another service on that port? --http HOST:PORT or --http off)") from exc
        self.port = self.server.sockets[0].getsockname()[1]
        hosts |= own_hosts(self.host, self.port, self.hostnames)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.hostnames:
            host = self.hostnames[0]
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    async def close(self) -> None:
        """Stop at once: no new connections, a close frame to every WebSocket, the rest cut after 1 s."""
        if self.server is not None:
            self.server.close()
        if self.app is not None:
            sockets: set[web.WebSocketResponse] = self.app[SOCKETS]
            await asyncio.gather(*(ws.close(code=1001, message=b"the service is stopping")
                                   for ws in list(sockets)), return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
