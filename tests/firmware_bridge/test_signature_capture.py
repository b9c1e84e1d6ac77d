"""SignatureCapture: starts, ends and refusals, driven by hand (no I/O)."""

from __future__ import annotations

import pytest

from firmware_bridge.capture import CaptureConfig, Refusal, SignatureCapture
from firmware_bridge.errors import CaptureError
from firmware_bridge.protocols.base import Done
from firmware_bridge.signature import Sample, Signature

CFG = CaptureConfig(lift_timeout_s=0.5, min_duration_ms=100, max_duration_ms=2000)


def stroke(cap, n, t0_ms=0.0, now0=0.0, down=True):
    """n samples 10 ms apart; returns whatever the capture returned on the way."""
    out = []
    for i in range(n):
        r = cap.feed(Sample(t0_ms + 10 * i, i * 3.0, i * 2.0 % 7, 0.5, down), now0 + 0.01 * i)
        if r is not None:
            out.append(r)
    return out


def test_starts_at_first_pen_down_and_ends_after_lift_timeout():
    cap = SignatureCapture(CFG)
    assert stroke(cap, 5, down=False) == []              # hovering first: ignored
    assert stroke(cap, 30, t0_ms=50, now0=0.05) == []
    assert stroke(cap, 3, t0_ms=350, now0=0.35, down=False) == []
    assert cap.tick(0.34 + 0.49) is None                 # last pen-down at 0.34 s
    sig = cap.tick(0.34 + 0.5)
    assert isinstance(sig, Signature) and len(sig) == 30  # hover before and after trimmed
    assert sig.t_ms[0] == 50 and cap.active is False


def test_done_message_ends_it():
    cap = SignatureCapture(CFG)
    stroke(cap, 20)
    assert isinstance(cap.feed(Done(), 0.3), Signature)


def test_host_request_ends_it():
    cap = SignatureCapture(CFG)
    stroke(cap, 20)
    assert isinstance(cap.request_end(), Signature) and cap.request_end() is None


def test_too_short_refused():
    cap = SignatureCapture(CFG)
    stroke(cap, 5)                                     # 5 points, 40 ms
    r = cap.feed(Done(), 0.1)
    assert isinstance(r, Refusal) and r.kind == "too_short" and "5 points" in r.reason
    with pytest.raises(CaptureError):
        raise r.error()


def test_too_long_refused_then_ignored_until_lift():
    cap = SignatureCapture(CFG)
    out = stroke(cap, 250)                             # 2.49 s > 2 s
    assert [r.kind for r in out] == ["too_long"]
    assert cap.active is False
    assert cap.tick(2.48 + 0.5) is None                # the lift re-arms it
    assert stroke(cap, 20, t0_ms=5000, now0=5.0) == []
    assert isinstance(cap.request_end(), Signature)


def test_disconnect_refuses_signature_in_progress():
    cap = SignatureCapture(CFG)
    stroke(cap, 20)
    r = cap.abort("pad disconnected")
    assert r.kind == "disconnected" and r.n_samples == 20
    assert cap.abort() is None


def test_config_checked():
    with pytest.raises(ValueError):
        CaptureConfig(lift_timeout_s=0)
