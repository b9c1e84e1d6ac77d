"""Bad input never crashes and never becomes an accept (hypothesis)."""

import json

import numpy as np
import pytest
from helpers.waiting import PATIENCE_S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_harness import running

from edge.app.config import Config
from edge.client import FINAL_EVENTS, ServiceClient
from firmware_bridge.signature import Signature

pytestmark = pytest.mark.data
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def enrolled(make_verifier, sig):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    return v


@st.composite
def scribbles(draw):
    """Random pen walks: any length, rate, pressure, lifts - valid Signatures."""
    n = draw(st.integers(10, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dt = rng.choice([1.0, 5.0, 10.0, 7.3], size=n) + rng.exponential(draw(st.floats(0, 30)), n)
    t = np.cumsum(dt)
    xy = np.cumsum(rng.normal(0, draw(st.floats(0.5, 500)), (n, 2)), axis=0)
    down = rng.random(n) > draw(st.floats(0, 0.3))
    down[:10] = True
    p = np.clip(rng.random(n), 0, 1)
    try:
        return Signature.create(t, xy[:, 0], xy[:, 1], down, p)
    except ValueError:
        return None


@FAST
@given(scribbles())
def test_random_scribbles_are_rejected_without_raising(enrolled, scribble):
    if scribble is None:
        return
    d = enrolled.verify("alice", scribble)
    assert d.accepted is False
    assert d.reason in ("no-match", "bad-signature", "replay")


@pytest.fixture
def no_pad_service(enrolled, tmp_path, model_dir):
    """The real service on alice's store, with no pad: pad requests must fail cleanly."""
    cfg = Config(store=tmp_path / "templates.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="off")
    with running(cfg, wait_pad=False):
        yield cfg


@FAST
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.dictionaries(st.sampled_from(["cmd", "user", "replace", "x"]),
                                 st.one_of(st.none(), st.integers(), st.text(max_size=20),
                                           st.sampled_from(["verify", "enrol", "users", "delete", "ping"])),
                                 max_size=4)))
@pytest.mark.slow
def test_control_requests_never_raise(no_pad_service, enrolled, raw):
    line = json.dumps(raw).encode() if isinstance(raw, dict) else (
        raw if isinstance(raw, bytes) else raw.encode())
    with ServiceClient(no_pad_service.socket, timeout_s=PATIENCE_S) as c:
        c.sock.sendall(line.replace(b"\n", b" ") + b"\n")
        answer = c.event()                  # every whole line gets an answer, errors included
        assert answer["event"] in FINAL_EVENTS and answer.get("accepted") is not True
        assert c.ping() == {"event": "pong"}                 # and the service carries on
    assert [u.user for u in enrolled.store.users()] in (["alice"], [])
