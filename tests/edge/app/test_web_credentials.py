"""Every route asks for a credential, by role (issue #23 items 1, 2, 7, 8, 9, 10; #22 item 5).

A real service on a virtual pad, real HTTP and WebSocket connections: each
/v1 route refused without a credential (HEAD and the WebSocket too), each
role allowed what it may and nothing else, the kiosk's stream cut to what
the signer sees, bodies of the wrong type and non-ASCII headers answered
400 naming what was wrong, unknown routes and methods in the JSON error
shape, and the OpenAPI document equal to the routes served.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re

import aiohttp
import pytest
from service_harness import enrol_directly, http_client, running

from edge.app.config import Config
from edge.app.credentials import FRAGMENT_KEYS, KIOSK, TOKEN_FILES
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.data]
ENROLLED = "writer"                    # enrol_directly's user


@pytest.fixture(scope="module")
def service(tmp_path_factory, model_dir):
    """(cfg, vpad, integrator HttpClient, {role: token}) of one running service for the module."""
    tmp_path = tmp_path_factory.mktemp("svc")
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0",
                     lift_timeout_s=2.0)
        enrol_directly(cfg, ENROLLED)
        with running(cfg):
            tokens = {role: (cfg.socket.parent / name).read_text().strip() for role, name in TOKEN_FILES.items()}
            yield cfg, vpad, http_client(cfg), tokens


def raw(api, method, path, token=None, body=None, headers=None):
    """(status, decoded JSON or None, headers) of one request, without the client's checks."""
    conn = http.client.HTTPConnection(api.host, api.port, timeout=30)
    try:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else (None if body is None else json.dumps(body).encode())
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        is_json = resp.getheader("Content-Type", "").startswith("application/json")
        return resp.status, json.loads(payload) if payload and is_json else payload or None, resp
    finally:
        conn.close()


def concrete(path: str) -> str:
    return path.replace("{user}", ENROLLED).replace("{name}", "0123456789abcdef.png")


def test_every_v1_route_refuses_a_caller_without_a_credential_head_included(service):
    _cfg, _vpad, api, _tokens = service
    doc = raw(api, "GET", "/v1/openapi.json")[1]
    guarded = [(m.upper(), p) for p, ops in doc["paths"].items() for m, op in ops.items() if "security" in op]
    assert len(guarded) >= 10 and ("GET", "/v1/stream") in guarded
    for method, path in guarded:
        assert raw(api, method, concrete(path), body={})[0] == 401, (method, path)
        if method == "GET":
            assert raw(api, "HEAD", concrete(path))[0] == 401, path
    # the public ones: the page files, the contract, and a status that says only "up"
    public = {p for p, ops in doc["paths"].items() for op in ops.values() if "security" not in op}
    assert public == {"/", "/kiosk.js", "/kiosk.css", "/operator", "/operator.js", "/operator.css",
                      "/v1/openapi.json", "/v1/status"}   # page files (no data in them) and "up"
    assert raw(api, "GET", "/v1/status")[1] == {"api": 1, "up": True}


def test_each_role_may_do_what_it_is_for_and_nothing_else(service):
    _cfg, _vpad, api, tokens = service
    kiosk, operator, integrator = tokens["kiosk"], tokens["operator"], tokens["integrator"]
    assert len(set(tokens.values())) == 3
    assert raw(api, "POST", "/v1/clear", kiosk)[0] == 200
    for path in ("/v1/users", "/v1/captures/0123456789abcdef.png"):
        assert raw(api, "GET", path, kiosk)[0] == 403
    assert raw(api, "DELETE", "/v1/users/nobody", kiosk)[0] == 403
    assert raw(api, "POST", "/v1/enrol", kiosk, {"user": "mallory"})[0] == 403
    # unknown and enrolled users: one answer to a caller who may not list users
    unknown = raw(api, "POST", "/v1/verify", kiosk, {"user": "nobody"})[:2]
    enrolled = raw(api, "POST", "/v1/verify", kiosk, {"user": ENROLLED})[:2]
    assert unknown == enrolled and unknown[0] == 403
    assert raw(api, "POST", "/v1/verify", operator, {"user": "nobody"})[:2] == unknown[:1] + (
        {"error": "not allowed for the operator credential", "status": 403},)
    # the kiosk's status: the pad to draw on, no users, lockouts or requests
    kiosk_status = raw(api, "GET", "/v1/status", kiosk)[1]
    assert set(kiosk_status) == {"api", "up", "pad"}
    assert raw(api, "GET", "/v1/users", operator)[1]["users"][0]["user"] == ENROLLED
    assert {"users", "lockouts", "busy", "counters"} <= set(raw(api, "GET", "/v1/status", operator)[1])
    assert raw(api, "GET", "/v1/users", integrator)[0] == 200
    assert raw(api, "GET", "/v1/users", "0" * 64)[0] == 401


def test_the_kiosk_page_is_public_and_its_token_file_private(service):
    cfg, _vpad, api, tokens = service
    status, page, resp = raw(api, "GET", "/")
    assert status == 200 and tokens[KIOSK].encode() not in page      # no data in the page itself
    assert resp.getheader("Referrer-Policy") == "no-referrer"
    for name in TOKEN_FILES.values():
        assert (cfg.socket.parent / name).stat().st_mode & 0o777 == 0o600
    assert FRAGMENT_KEYS[KIOSK] == "k"             # serve prints /#k=TOKEN (test_web_stop runs it)


async def _stream(port, first_message, origin=None):
    """(close code or None, the first event) of a stream whose first message is ``first_message``."""
    async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{port}/v1/stream",
                                                          origin=origin) as ws:
        if first_message is not None:
            await ws.send_str(first_message)
        msg = await ws.receive(timeout=30)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return None, json.loads(msg.data)
        return ws.close_code, None


def test_the_stream_wants_a_credential_first_and_closes_4401_otherwise(service):
    _cfg, _vpad, api, tokens = service
    assert asyncio.run(_stream(api.port, None)) == (4401, None)              # nothing within 5 s
    assert asyncio.run(_stream(api.port, json.dumps({"auth": "0" * 64}))) == (4401, None)
    assert asyncio.run(_stream(api.port, "not json")) == (4401, None)
    assert asyncio.run(_stream(api.port, json.dumps({"auth": "é"}))) == (4401, None)
    assert asyncio.run(_stream(api.port, "[" * 2000 + "]" * 2000)) == (4401, None)   # no RecursionError
    code, hello = asyncio.run(_stream(api.port, json.dumps({"auth": tokens["kiosk"]})))
    assert code is None and hello["event"] == "hello" and hello["busy"] is False


def test_the_kiosk_stream_shows_the_signer_no_user_and_no_score(service, sig):
    _cfg, vpad, api, tokens = service

    async def watch():
        async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{api.port}/v1/stream") as ws:
            await ws.send_json({"auth": tokens["kiosk"]})
            seen = [await ws.receive_json(timeout=30)]
            verdict = asyncio.ensure_future(asyncio.to_thread(api.verify, ENROLLED))
            while seen[-1]["event"] != "decision":
                seen.append(await ws.receive_json(timeout=60))
                if seen[-1]["event"] == "prompt":
                    await asyncio.to_thread(vpad.sign, sig(1, 8))
            return seen, await verdict
    seen, answer = asyncio.run(watch())
    assert {"score", "threshold", "user", "reasons"} <= set(answer)       # the integrator's answer keeps them
    prompt = next(e for e in seen if e["event"] == "prompt")
    assert "user" not in prompt and prompt["message"] == "sign now"
    decision = seen[-1]
    assert set(decision) <= {"event", "request_id", "accepted", "reason"}
    assert decision["accepted"] == answer["accepted"] and decision["reason"] == answer["reason"]
    assert any(e["event"] == "ink" for e in seen)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/enrol", {"user": "u31", "replace": "false"}, "replace"),
    ("/v1/enrol", {"user": "u31", "replace": "no"}, "replace"),
    ("/v1/enrol", {"user": "u31", "replace": [0]}, "replace"),
    ("/v1/verify", {"user": 5}, "user"),
    ("/v1/verify", {"user": None}, "user"),
    ("/v1/verify", {"user": "a" * 65}, "user"),
    ("/v1/verify", {"user": "writer", "request_id": 7}, "request_id"),
    ("/v1/verify", {"user": "writer", "extra": 1}, "extra"),
    ("/v1/verify", {}, "user"),
    ("/v1/ok", {"now": True}, "now"),
])
def test_a_body_of_the_wrong_type_is_a_400_naming_the_field(service, path, body, field):
    _cfg, _vpad, api, tokens = service
    status, answer, _ = raw(api, "POST", path, tokens["integrator"], body)
    assert status == 400 and answer["status"] == 400 and answer["error"].startswith(f"{field}:"), answer
    assert raw(api, "GET", "/v1/status", tokens["integrator"])[1]["busy"] is None     # nothing armed


@pytest.mark.parametrize("header", ["Authorization", "X-Sigpad-Nonce", "X-Anything"])
def test_header_bytes_outside_ascii_are_a_400_not_a_500(service, header, caplog):
    _cfg, _vpad, api, _tokens = service
    conn = http.client.HTTPConnection(api.host, api.port, timeout=30)
    conn.putrequest("GET", "/v1/users")
    conn.putheader(header, "Bearer caf\xe9".encode("latin-1"))
    conn.endheaders()
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (400, {"error": "header bytes outside ASCII", "status": 400})
    conn.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_unknown_routes_and_methods_answer_the_json_error(service):
    _cfg, _vpad, api, tokens = service
    assert raw(api, "GET", "/v1/nothing-here")[:2] == (404, {"error": "no such route", "status": 404})
    status, answer, _ = raw(api, "PUT", "/v1/users", tokens["integrator"])
    assert (status, answer["status"]) == (405, 405) and "PUT" in answer["error"]


def test_the_openapi_document_is_the_route_table(service):
    from edge.app import api as contract
    _cfg, _vpad, api, _tokens = service
    doc = raw(api, "GET", "/v1/openapi.json")[1]
    assert doc["openapi"] == "3.1.0"
    served = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    from edge.app.web import make_app
    app = make_app(hub=_NoHub(), tokens={}, hosts=set(), limits=None)     # the table alone
    assert served == {(m, p) for m, p, _h in contract.routes(app)}
    verify = doc["paths"]["/v1/verify"]["post"]
    assert verify["requestBody"]["content"]["application/json"]["schema"]["properties"]["user"]["type"] == "string"
    assert verify["x-sigpad-roles"] == ["integrator"]
    assert doc["paths"]["/v1/enrol"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["replace"] == {"type": "boolean"}


class _NoHub:
    count = staticmethod(lambda name: None)
    cfg = None              # read by the kiosk's and operator's handlers when called, never here


def test_the_python_clients_calls_are_all_in_the_contract(service, monkeypatch):
    from edge.client import HttpClient
    _cfg, _vpad, api, _tokens = service
    doc = raw(api, "GET", "/v1/openapi.json")[1]
    made = []

    def record(self, method, path, body):
        made.append((method, path, body))
        return 200, b'{"users": []}'
    monkeypatch.setattr(HttpClient, "_exchange", record)
    client = HttpClient(f"http://127.0.0.1:{api.port}")
    client.status(), client.verify("alice", "r-1"), client.enrol("alice", True, "r-2"), client.capture("r-3")
    client.ok(), client.clear(), client.cancel(), client.users(), client.delete("alice")
    client.image("0123456789abcdef", "png"), client.recording("0123456789abcdef")
    from edge.app import api as contract
    for method, path, body in made:
        op = _operation(doc, method, path)
        assert op is not None, (method, path)
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            contract.check(body or {}, schema)                         # raises BadBody naming the field
        else:
            assert body is None, (method, path)
    assert len(made) == 11


def _operation(doc, method, path):
    for template, ops in doc["paths"].items():
        if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), path) and method.lower() in ops:
            return ops[method.lower()]
    return None
