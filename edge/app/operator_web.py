"""The operator's web routes and page: users, lockouts, recent decisions; unlock.

The page (``/operator``, from ``kiosk/operator.*``) is opened as
``/operator#o=TOKEN`` with the operator's credential, never on the signer's
screen. Enrolment and deletion use the API's own routes (``POST /v1/enrol``,
``DELETE /v1/users/{user}``); these add what the operator needs besides:

======  ==============================  ==============================================
GET     /operator (.js, .css)           the page (no data in it: it asks the routes below)
GET     /v1/operator/overview           every user: templates, lock, failures, last decisions
GET     /v1/operator/history/{user}     one user's last decisions (``?last=N``, default 20)
POST    /v1/operator/unlock             ``{"user"}``: clear the lock, kept in the user's history
======  ==============================  ==============================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from ..errors import UnknownUser
from ..model import current_model_shas
from ..store import check_user_id
from . import api
from .credentials import INTEGRATOR, OPERATOR, public, requires
from .hub import Hub
from .operator_store import overview, user_history
from .web_guard import checked_body, json_error

PAGE_DIR = Path(__file__).resolve().parent / "kiosk"
PAGE_FILES = {"/operator": ("operator.html", "text/html"), "/operator.js": ("operator.js", "text/javascript"),
              "/operator.css": ("operator.css", "text/css")}
"""Public like the kiosk page's files: the browser cannot send the fragment's credential for them."""
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def add_operator_routes(app: web.Application, hub: Hub) -> None:
    """The operator's page and routes on ``app``, acting on ``hub``'s store."""
    for path in PAGE_FILES:
        app.router.add_get(path, page)
    shas: Callable[[], set[str]] = lambda: current_model_shas(hub.cfg)  # noqa: E731 (read per call: models may change)

    @requires(OPERATOR, INTEGRATOR)
    async def operator_overview(request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(lambda: overview(hub.store, shas() or None)))

    @requires(OPERATOR, INTEGRATOR)
    async def operator_history(request: web.Request) -> web.Response:
        try:
            last = int(request.query.get("last", "20"))
            user = check_user_id(request.match_info["user"])
            return web.json_response(await asyncio.to_thread(user_history, hub.store, user, last))
        except UnknownUser as exc:
            return json_error(404, str(exc))
        except ValueError as exc:
            return json_error(400, str(exc))

    @requires(OPERATOR, INTEGRATOR)
    @api.accepts(api.UNLOCK)
    async def operator_unlock(request: web.Request) -> web.Response:
        try:
            user = check_user_id(checked_body(request)["user"])   # a string by api.UNLOCK, checked by the guard
            return web.json_response(await asyncio.to_thread(hub.unlock_user, user, "the operator page"))
        except UnknownUser as exc:          # a KeyError too: first
            return json_error(404, str(exc))
        except (ValueError, KeyError, TypeError):
            return json_error(400, 'an unlock needs {"user": NAME}')

    app.router.add_get("/v1/operator/overview", operator_overview)
    app.router.add_get("/v1/operator/history/{user}", operator_history)
    app.router.add_post("/v1/operator/unlock", operator_unlock)


@public
async def page(request: web.Request) -> web.Response:
    name, kind = PAGE_FILES[request.path]
    body = await asyncio.to_thread((PAGE_DIR / name).read_bytes)
    return web.Response(body=body, content_type=kind, headers=PAGE_HEADERS)
