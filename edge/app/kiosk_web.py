"""The signer's page settings: its language and how long a verdict stays (``GET /v1/kiosk``).

The page (``kiosk/``) asks once when it loads. The language is the
config's ``[kiosk] language`` when it names one, else the best of the
browser's ``Accept-Language`` that the catalogue (``kiosk/messages.json``)
has, else English. The answer carries that language's messages, so the
page holds no words of its own.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from aiohttp import web

from .config import AUTO_LANGUAGE, Config
from .credentials import INTEGRATOR, KIOSK, OPERATOR, requires

CATALOGUE = Path(__file__).resolve().parent / "kiosk" / "messages.json"
DEFAULT_LANGUAGE = "en"


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """Language code -> message key -> text (read once; shipped with the package)."""
    data: dict[str, dict[str, str]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def choose_language(configured: str, accept_language: str | None) -> str:
    """``configured`` unless it is ``auto``; else the first of ``Accept-Language``'s
    languages (by q, then order) that the catalogue has; else English."""
    known = catalogue()
    if configured != AUTO_LANGUAGE:
        return configured if configured in known else DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in known), DEFAULT_LANGUAGE)


def add_kiosk_routes(app: web.Application, cfg: Config) -> None:
    """``GET /v1/kiosk``: the page's language, its messages and the verdict's time on screen."""

    @requires(KIOSK, OPERATOR, INTEGRATOR)
    async def kiosk_settings(request: web.Request) -> web.Response:
        language = choose_language(cfg.kiosk_language, request.headers.get("Accept-Language"))
        return web.json_response({"language": language, "verdict_seconds": cfg.kiosk_verdict_s,
                                  "messages": catalogue()[language]})
    app.router.add_get("/v1/kiosk", kiosk_settings)
