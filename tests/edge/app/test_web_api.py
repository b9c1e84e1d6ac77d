"""The web API over real HTTP and WebSocket connections, with the virtual pad on a pty.

Enrol 5, verify a genuine signature and a forgery while the ink streams,
OK / Clear / Cancel from the host, the pad unplugged and replugged during a
request, 50 concurrent status requests, captures as PNG / SVG / recording,
and the guards: token, Origin, Host.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from helpers.waiting import PATIENCE_S, wait_for
from service_harness import JUDGED, enrol_directly, http_client, running

from edge.app.config import Config
from edge.errors import ApiError, ServiceError
from firmware_bridge import recording
from firmware_bridge.capture import HOST_END_LIFT_S
from firmware_bridge.virtual import VirtualPad, reports_for

pytestmark = [pytest.mark.data]


@pytest.fixture
def service(request, tmp_path, model_dir):
    """(cfg, virtual pad, HttpClient) of a running service; lift timeout 60 s (the most it
    takes), so that OK and Clear come after a signature and before the lift ends it however
    busy the machine (the pad's "done" ends the others at once)."""
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0",
                     lift_timeout_s=LIFT_S)
        if request.node.get_closest_marker("enrolled"):
            enrol_directly(cfg)  # a verify needs an enrolled user before it asks anyone to sign
        with running(cfg):
            yield cfg, vpad, http_client(cfg)


LIFT_S = 60.0


def in_thread(fn, *args):
    """Run a blocking call (an HTTP request that waits for the pen); ``.result()`` joins it."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future


def test_enrol_verify_and_the_ink_stream(service, sig):
    _cfg, vpad, api = service
    with api.stream() as events:
        assert events.hello["api"] == 1 and events.hello["pad"]["present"] is True
        enrolment = in_thread(api.enrol, "alice")
        for n in range(1, 7):
            prompt, _ = events.until("prompt")
            assert prompt["message"] == f"sign ({n}/6)"
            vpad.sign(sig(1, n))
        assert enrolment.result(60)["templates"] == 6

        genuine = sig(1, 8)
        answer = in_thread(api.verify, "alice", "req-42")
        assert events.until("prompt")[0]["request_id"] == "req-42"
        vpad.sign(genuine)
        decision, seen = events.until("decision")
        assert (decision["accepted"], decision["reason"], decision["request_id"]) == (True, "match", "req-42")
        assert answer.result(30) == decision                     # the HTTP answer is the event
        ink = [e for e in seen if e["event"] == "ink"]
        assert len(ink) >= 0.9 * len(genuine)                    # every sample streamed (pen-up ones too)
        assert {"event": "pen", "down": True} in seen
        # the first sample as the pad sent it: raw units, and 0..1 of the pad's range, y downward
        caps = vpad.caps
        first = reports_for(genuine, caps)[0]
        assert (ink[0]["x"], ink[0]["y"]) == (first.x, first.y)
        assert ink[0]["nx"] == pytest.approx(first.x / caps.max_x, abs=1e-5)
        assert ink[0]["ny"] == pytest.approx(1 - first.y / caps.max_y, abs=1e-5)
        assert ink[0]["p"] == pytest.approx(first.pressure / caps.max_pressure, abs=1e-4)

        forged = in_thread(api.verify, "alice")
        events.until("prompt")
        vpad.sign(sig(1, 21))
        assert (forged.result(30)["accepted"], forged.result()["reason"]) == (False, "no-match")
        assert "shape" in forged.result()["reasons"]             # the fused score decides on "shape" parts

    capture = decision["capture_id"]
    png, svg = api.image(capture, "png"), api.image(capture, "svg")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"<svg" in svg
    rec = api.recording(capture)
    assert recording.from_dict(rec).n_strokes >= 1 and rec["pad"]["protocol"] == "sigpad"
    assert rec["capabilities"]["max_x"] == caps.max_x
    status = api.status()
    assert status["users"] == 1 and status["model"]["kind"] == "pressure" and status["busy"] is None


def wait_for_ink(events, n: int) -> None:
    """Until the stream has shown ``n`` samples: the service has read them all."""
    while n > 0:
        n -= events.next(PATIENCE_S)["event"] == "ink"


@pytest.mark.enrolled
def test_ok_clear_and_cancel_from_the_host(service, sig):
    _cfg, vpad, api = service
    first, second = sig(2, 1), sig(2, 2)
    with api.stream() as events:
        # Clear: the first signature is thrown away, the second answers (another writer's: judged).
        answer = in_thread(api.verify, "writer")
        events.until("prompt")
        vpad.sign(first, done=False)                            # the pen lifts; the lift has 60 s to run
        wait_for_ink(events, len(first))                        # the service has all of it: now Clear
        time.sleep(0.2)       # at least: the pen is off the pad (a Clear while it moves drops its stroke too)
        assert api.clear()["event"] == "cleared"
        vpad.sign(second, done=False)
        # OK: the second ends now, not after the lift timeout
        wait_for_ink(events, len(second))
        time.sleep(HOST_END_LIFT_S + 0.1)                      # a person lifts, then reaches for OK
        t = time.monotonic()
        api.ok()
        d = answer.result(PATIENCE_S)
        assert d["reason"] in JUDGED and time.monotonic() - t < LIFT_S, d
        kept = recording.from_dict(api.recording(d["capture_id"]))
        # the second signature, all of it (the pad's units are SVC2004's here), none of the first
        assert list(kept.x) == list(second.x) and len(second) != len(first)

        # Cancel in the middle of a signature: a rejecting decision, not counted, the pad freed
        answer = in_thread(api.verify, "writer")
        events.until("prompt")
        vpad.sign(sig(2, 3))
        events.until("ink")
        assert api.cancel()["event"] == "cancelled"
        d = answer.result(30)
        assert (d["accepted"], d["reason"], d["detail"]) == (False, "capture-failed", "cancelled by the host")
        assert api.status()["busy"] is None
        vpad.wait_idle(30)


@pytest.mark.enrolled
def test_pad_unplugged_and_replugged_during_a_request(service, sig):
    _cfg, vpad, api = service
    with api.stream() as events:
        answer = in_thread(api.verify, "writer")
        events.until("prompt")
        vpad.unplug()                                            # nothing signed yet: the request waits
        assert events.until("pad")[0]["present"] is False
        assert api.status()["busy"]["kind"] == "verify"
        vpad.replug()
        assert events.until("pad")[0]["present"] is True
        vpad.sign(sig(3, 1))
        assert answer.result(30)["reason"] in JUDGED             # judged after the replug

        answer = in_thread(api.verify, "writer")
        events.until("prompt")
        vpad.sign(sig(3, 2))
        events.until("ink")
        vpad.unplug()                                            # in the middle of a signature
        d = answer.result(30)
        assert (d["reason"], d["detail"]) == ("capture-failed", "signature broken off: pad disconnected")
        vpad.replug()
        events.until("pad")


def test_fifty_concurrent_status_requests(service):
    _cfg, _vpad, api = service
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: api.status(), range(50)))
    assert len(answers) == 50 and all(a["api"] == 1 and a["pad"]["present"] for a in answers)


def raw(api, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_token_origin_and_host_guards(service):
    cfg, _vpad, api = service
    own = f"http://127.0.0.1:{api.port}"
    bearer = {"Authorization": f"Bearer {api.token}"}
    # writes and captures need the token from the 0600 file
    assert (cfg.socket.parent / "http.token").stat().st_mode & 0o777 == 0o600
    assert raw(api, "POST", "/v1/enrol", body={"user": "mallory"})[0] == 401
    assert raw(api, "POST", "/v1/enrol", {"Authorization": "Bearer " + "0" * 64}, {"user": "m"})[0] == 401
    assert raw(api, "DELETE", "/v1/users/alice")[0] == 401
    assert raw(api, "GET", "/v1/users")[0] == 401
    assert raw(api, "GET", "/v1/captures/0123456789abcdef.png")[0] == 401
    assert raw(api, "GET", "/v1/users", bearer) == (200, {"users": []})
    # another site's page, in a browser on this machine, token or not
    evil = {"Origin": "http://evil.example"}
    assert raw(api, "POST", "/v1/enrol", {**evil, **bearer}, {"user": "mallory"})[0] == 403
    assert raw(api, "POST", "/v1/cancel", evil)[0] == 403
    assert raw(api, "GET", "/v1/status", {"Origin": "null"})[0] == 403
    assert raw(api, "POST", "/v1/verify", {"Origin": own, **bearer}, {})[0] == 400  # own origin: judged on its body
    # a DNS-rebinding page reaches 127.0.0.1 under its own name
    assert raw(api, "GET", "/v1/status", {"Host": f"evil.example:{api.port}"})[0] == 403

    async def websocket(origin):
        async with aiohttp.ClientSession() as s, \
                s.ws_connect(f"ws://127.0.0.1:{api.port}/v1/stream", origin=origin) as ws:
            await ws.send_json({"auth": api.token})
            return (await ws.receive_json())["event"]
    assert asyncio.run(websocket(own)) == "hello"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(websocket("http://evil.example"))
    assert refused.value.status == 403
    counters = api.status()["counters"]
    assert counters["refused_token"] == 5 and counters["refused_origin"] == 4 and counters["refused_host"] == 1
    # the client checks the service's proof of the token
    api.token = "f" * 64
    with pytest.raises(ServiceError, match="does not prove the token"):
        api.status()


def test_bad_requests_are_clear_errors(service):
    _cfg, _vpad, api = service
    bearer = {"Authorization": f"Bearer {api.token}"}
    assert raw(api, "POST", "/v1/verify", bearer, body=None)[0] == 400
    status, answer = raw(api, "POST", "/v1/verify", bearer, body={"user": "no/such"})
    assert status == 400 and answer["error"].startswith("user: 'no/such' is not valid")
    with pytest.raises(ApiError) as err:
        api.image("0123456789abcdef", "png")
    assert err.value.status == 404
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    conn.request("POST", "/v1/verify", body=b"{" * 100, headers={"Content-Type": "application/json", **bearer})
    assert conn.getresponse().status == 400
    conn.close()
    busy = threading.Event()  # a capture holds the pad (a verify of an unknown user is refused at once)
    answer = in_thread(lambda: (busy.set(), raw(api, "POST", "/v1/capture", bearer, body={}))[1])
    busy.wait(PATIENCE_S)
    wait_for(lambda: api.status()["busy"] is not None, "the capture holding the pad")
    with pytest.raises(ApiError) as err:
        api.verify("someone")
    assert err.value.status == 409 and "busy" in str(err.value)
    api.cancel()
    assert "cancelled by the host" in answer.result(10)[1]["error"]
    status, refused = raw(api, "POST", "/v1/verify", bearer, body={"user": "nobody"})
    assert refused["reason"] == "unknown-user"  # checked before anyone is asked to sign
