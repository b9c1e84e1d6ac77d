"""The web API's contract, written once: request schemas, their check, and the OpenAPI document.

A handler declares its body with ``@accepts(SCHEMA)`` (a JSON Schema
object, the small subset below) and who may call it with
``credentials.requires``; the ``web`` middleware checks both before the
handler runs, and ``openapi(app)`` builds ``/v1/openapi.json`` from the
same route table, so the document cannot drift from what is served.

The subset checked: ``type`` (object, string, boolean, integer), ``properties``,
``required``, ``additionalProperties: false``, ``pattern``, ``maxLength``.
A body that breaks it is a 400 naming the field (``BadBody``): ``"false"``
is not a boolean, ``5`` is not a user id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

from aiohttp import web

from ..errors import ConfigError
from ..scores import ASPECTS
from .credentials import ROLES, roles_of

Schema = dict[str, Any]
Handler = TypeVar("Handler", bound=Callable[..., object])

USER_ID: Final[Schema] = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$", "maxLength": 64,
                          "description": "1-64 letters, digits and ._@+-, starting with a letter or digit"}
REQUEST_ID: Final[Schema] = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$", "maxLength": 64,
                             "description": "echoed in the request's events"}
VERIFY: Final[Schema] = {"type": "object", "properties": {"user": USER_ID, "request_id": REQUEST_ID},
                         "required": ["user"], "additionalProperties": False}
ENROL: Final[Schema] = {"type": "object", "required": ["user"], "additionalProperties": False,
                        "properties": {"user": USER_ID, "replace": {"type": "boolean"}, "request_id": REQUEST_ID}}
UNLOCK: Final[Schema] = {"type": "object", "properties": {"user": USER_ID}, "required": ["user"],
                         "additionalProperties": False}
CAPTURE: Final[Schema] = {"type": "object", "properties": {"request_id": REQUEST_ID}, "additionalProperties": False}
EMPTY: Final[Schema] = {"type": "object", "properties": {}, "additionalProperties": False}
ERROR: Final[Schema] = {"type": "object", "required": ["error", "status"],
                        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}
_NUMBER_OR_NULL: Final[Schema] = {"type": ["number", "null"]}
DECISION: Final[Schema] = {
    "type": "object", "required": ["event", "accepted", "reason"],
    "description": "A decision (edge.decision.Decision); one that could not start has no score_name or reasons",
    "properties": {
        "event": {"const": "decision"}, "request_id": REQUEST_ID, "user": USER_ID, "accepted": {"type": "boolean"},
        "reason": {"type": "string", "description": "the reason code (sigpad --help lists them)"},
        "score": _NUMBER_OR_NULL, "threshold": _NUMBER_OR_NULL, "latency_ms": _NUMBER_OR_NULL,
        "detail": {"type": "string"}, "score_name": {"type": "string"},
        "reasons": {"type": "array", "items": {"enum": list(ASPECTS)}, "uniqueItems": True,
                    "description": "a scored decision's aspects that pulled its score down, most negative "
                                   "first; empty for a decision without a score or a score that cannot tell"},
        "adapted": {"type": "string"}, "damage": {"type": "object"}, "capture_id": {"type": ["string", "null"]}}}
"""The decision's answer, for the document only (``check`` reads a request's smaller subset)."""

_BODY = "__sigpad_body__"
_ANSWER = "__sigpad_answer__"
_TYPES: Final[dict[str, tuple[type, ...]]] = {"object": (dict,), "string": (str,), "boolean": (bool,),
                                               "integer": (int,)}


class BadBody(ConfigError):
    """A request body that breaks its schema; the message names the field."""


def accepts(schema: Schema) -> Callable[[Handler], Handler]:
    """Declare the JSON body a route handler takes (checked by the middleware)."""
    def declare(handler: Handler) -> Handler:
        setattr(handler, _BODY, schema)
        return handler
    return declare


def answers(schema: Schema) -> Callable[[Handler], Handler]:
    """Declare the JSON a route handler answers with (for the document)."""
    def declare(handler: Handler) -> Handler:
        setattr(handler, _ANSWER, schema)
        return handler
    return declare


def body_schema(handler: object) -> Schema | None:
    schema: object = getattr(handler, _BODY, None)
    return schema if isinstance(schema, dict) else None


def check(value: object, schema: Schema, where: str = "body") -> None:
    """``BadBody`` naming the first field of ``value`` that breaks ``schema``."""
    kind = schema.get("type")
    if kind is not None and (not isinstance(value, _TYPES[kind])
                             or (kind == "integer" and isinstance(value, bool))):
        raise BadBody(f"{where}: expected {'a JSON ' + kind if kind != 'object' else 'a JSON object'}, "
                      f"got {_shown(value)}")
    if isinstance(value, str) and (len(value) > schema.get("maxLength", len(value))
                                   or not re.search(schema.get("pattern", ""), value)):
        raise BadBody(f"{where}: {_shown(value)} is not valid ({schema.get('description', 'see the schema')})")
    if isinstance(value, dict):
        _check_object(value, schema, where)


def _check_object(value: dict[str, Any], schema: Schema, where: str) -> None:
    fields: dict[str, Schema] = schema.get("properties", {})
    prefix = "" if where == "body" else f"{where}."
    for name in schema.get("required", []):
        if name not in value:
            raise BadBody(f'{prefix}{name}: missing (a required field)')
    for name, item in value.items():
        if name in fields:
            check(item, fields[name], f"{prefix}{name}")
        elif schema.get("additionalProperties") is False:
            raise BadBody(f"{prefix}{name}: unknown field (allowed: {', '.join(sorted(fields)) or 'none'})")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- the document ---------------------------------------------------------------------------

def routes(app: web.Application) -> list[tuple[str, str, object]]:
    """(method, path, handler) of every route the app serves (HEAD, added with each GET, left out)."""
    found: list[tuple[str, str, object]] = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            found.append((route.method, str(path), route.handler))
    return found


def openapi(app: web.Application, title: str, version: str) -> Schema:
    """The OpenAPI 3.1 document of ``app``'s routes, their roles and bodies."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in routes(app):
        paths.setdefault(path, {})[method.lower()] = _operation(path, handler)
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": {"Error": ERROR}, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": f"one token per role ({', '.join(ROLES)}): the role's token file"}}}}


def _operation(path: str, handler: object) -> Schema:
    roles = sorted(roles_of(handler))
    doc = (getattr(handler, "__doc__", None) or "").strip().splitlines()
    op: Schema = {"operationId": getattr(handler, "__name__", "route") + path.replace("/", "_").replace(".", "_")
                  .replace("{", "").replace("}", ""),
                  "summary": doc[0] if doc else path, "x-sigpad-roles": roles,
                  "responses": {"200": {"description": "done"},
                                "default": {"description": "an error",
                                            "content": {"application/json": {
                                                "schema": {"$ref": "#/components/schemas/Error"}}}}}}
    if roles and "public" not in roles:
        op["security"] = [{"bearer": []}]
    params = re.findall(r"\{(\w+)\}", path)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "schema": USER_ID if p == "user" else {"type": "string"}} for p in params]
    answer: object = getattr(handler, _ANSWER, None)
    if isinstance(answer, dict):
        op["responses"]["200"]["content"] = {"application/json": {"schema": answer}}
    schema = body_schema(handler)
    if schema is not None:
        op["requestBody"] = {"required": bool(schema.get("required")),
                             "content": {"application/json": {"schema": schema}}}
    return op
