"""The web API's door: who is calling, may they, is the request well formed, is there room.

One aiohttp middleware (``guard``) runs before every handler, in this order:

1. header bytes outside ASCII: 400 (never a 500 from a token compare);
2. ``Host`` one of the service's own names (DNS rebinding), and an
   ``Origin``, when sent, its own page;
3. an unknown route or method: the JSON error, 404 or 405;
4. the caller's role from ``Authorization: Bearer TOKEN``, compared in
   constant time with every role's token; the handler must admit that role
   (``credentials.requires``), or be ``public``; a handler that declared
   nothing admits nobody (default deny). The WebSocket may instead send its
   token as its first message (browsers cannot set headers on it);
5. room: over the total limit only ``/v1/status`` and the operator's and
   integrator's calls are served (the reserved slots), so idle kiosks or
   strangers cannot lock out the people who run the device;
6. for a handler that declared a body (``api.accepts``): the body read within
   ``body_timeout_s`` and checked against that schema before the handler runs
   (``api.check``): 400 naming the field; the handler takes it from
   ``checked_body``.

Every answer carries ``X-Sigpad-Proof``: for a client's ``X-Sigpad-Nonce``,
HMAC-SHA256(token, nonce) under each role's token, so a client proves the
server holds its token *before* it sends the token (``edge.client``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..wire import same_token, token_proof
from . import api
from .credentials import INTEGRATOR, OPERATOR, is_public, roles_of
from .web_limits import Limits

log = logging.getLogger("sigpad.service")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKENS: web.AppKey[dict[str, str]] = web.AppKey("tokens")
HOSTS: web.AppKey[set[str]] = web.AppKey("hosts")
LIMITS: web.AppKey[Limits] = web.AppKey("limits")
COUNT: web.AppKey[Callable[[str], None]] = web.AppKey("count")
EXPOSED: web.AppKey[bool] = web.AppKey("exposed")
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout_s")
BODY: web.RequestKey[dict[str, Any]] = web.RequestKey("body")   # checked against the handler's schema
"""Served beyond loopback: every /v1 route, the bare status too, wants a credential."""
ROLE: web.RequestKey[str | None] = web.RequestKey("role")
FIRST_MESSAGE_AUTH = "__sigpad_first_message_auth__"
RESERVED_ROLES = frozenset({OPERATOR, INTEGRATOR})


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "status": status, **extra}, status=status)


def first_message_auth(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark the WebSocket route: a caller without the header may send its token as the first message."""
    setattr(handler, FIRST_MESSAGE_AUTH, True)
    return handler


def role_of_token(given: str | None, tokens: dict[str, str]) -> str | None:
    """The role whose token ``given`` is; every token compared, in constant time each."""
    found = None
    for role, token in tokens.items():     # no early exit: every role's token is compared
        if same_token(given, token):
            found = role
    return found


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    return auth.removeprefix("Bearer ").strip() or None if auth else None


def proofs(tokens: dict[str, str], nonce: str) -> str:
    return ", ".join(token_proof(t, nonce) for t in tokens.values())


def _bad_headers(request: web.Request) -> bool:
    return not all(k.isascii() and v.isascii() for k, v in request.raw_headers)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        response: web.StreamResponse = refused
    else:
        try:
            if api.body_schema(request.match_info.handler) is not None:    # declared: checked here, always
                request[BODY] = await read_body(request, request.app[BODY_TIMEOUT])
            response = await handler(request)
        except web.HTTPException as exc:     # every error in the documented JSON shape
            response = json_error(exc.status, _message_of(exc))
    proof = proof_for(request)
    if proof is not None and not response.prepared:
        response.headers["X-Sigpad-Proof"] = proof
    return response


def proof_for(request: web.Request) -> str | None:
    """``X-Sigpad-Proof`` for the client's ``X-Sigpad-Nonce`` (None without a usable nonce)."""
    nonce = request.headers.get("X-Sigpad-Nonce")
    if nonce and len(nonce) <= 128 and nonce.isascii():
        return proofs(request.app[TOKENS], nonce)
    return None


def checked_body(request: web.Request) -> dict[str, Any]:
    """The body the guard read and checked against the handler's ``@api.accepts`` schema."""
    if BODY not in request:
        raise web.HTTPInternalServerError(text="a handler read a body it did not declare (api.accepts)")
    return request[BODY]


def _refusal(request: web.Request) -> web.Response | None:
    """Why ``request`` is not served (steps 1-5), or None; the body is checked by ``read_body``."""
    app, count = request.app, request.app[COUNT]
    if _bad_headers(request):
        count("refused_header")
        return json_error(400, "header bytes outside ASCII")
    if request.host not in app[HOSTS]:
        count("refused_host")
        log.warning("http: refused %s %s: Host %r is not this service's", request.method, request.path,
                    request.host)
        return json_error(403, "unexpected Host header (this service answers to its own names only)")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"{s}://{h}" for h in app[HOSTS] for s in ("http", "https")}:
        count("refused_origin")
        log.warning("http: refused %s %s from Origin %s", request.method, request.path, origin)
        return json_error(403, f"cross-origin request refused (Origin {origin})")
    missing = request.match_info.http_exception
    if missing is not None:
        return json_error(missing.status, "no such route" if missing.status == 404 else
                          f"method {request.method} not allowed on {request.path}")
    return _access(request)


def _access(request: web.Request) -> web.Response | None:
    handler, app = request.match_info.handler, request.app
    given = bearer(request)
    role = role_of_token(given, app[TOKENS])
    request[ROLE] = role
    if is_public(handler) and not (app[EXPOSED] and request.path.startswith("/v1/")):
        pass
    elif given is not None and role is None:
        app[COUNT]("refused_token")
        return json_error(401, "wrong token (Authorization: Bearer <the role's token file>)")
    elif role is None and not (getattr(handler, FIRST_MESSAGE_AUTH, False)
                               and request.headers.get("Upgrade", "").lower() == "websocket"):
        app[COUNT]("refused_token")
        return json_error(401, "this request needs a credential (Authorization: Bearer <token>)")
    elif role is not None and role not in roles_of(handler) and not is_public(handler):
        app[COUNT]("refused_role")
        return json_error(403, f"not allowed for the {role} credential")
    if app[LIMITS].over(request) and not (request.path == "/v1/status" or role in RESERVED_ROLES):
        app[COUNT]("refused_connections")
        return json_error(503, "too many connections; try again later")
    return None


async def read_body(request: web.Request, timeout_s: float) -> dict[str, Any]:
    """The route's JSON body, read within ``timeout_s`` and checked against its schema (``{}`` when none)."""
    schema = api.body_schema(request.match_info.handler) or api.EMPTY
    body: object = {}
    if request.can_read_body:
        try:
            body = await asyncio.wait_for(request.json(), timeout_s)
        except TimeoutError:
            raise _bad(408, f"the body did not arrive within {timeout_s:g} s") from None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _bad(400, "the body is not valid JSON") from None
    try:
        api.check(body, schema)
    except api.BadBody as exc:
        raise _bad(400, str(exc)) from None
    assert isinstance(body, dict)       # the schema's type is object
    return body


def _bad(status: int, message: str) -> web.HTTPException:
    kind = web.HTTPRequestTimeout if status == 408 else web.HTTPBadRequest
    return kind(text=json.dumps({"error": message, "status": status}), content_type="application/json")


def _message_of(exc: web.HTTPException) -> str:
    if exc.content_type == "application/json" and exc.text:
        try:
            return str(json.loads(exc.text)["error"])
        except (ValueError, KeyError, TypeError):
            pass
    return exc.reason
