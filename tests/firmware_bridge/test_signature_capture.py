"""SignatureCapture: starts, ends and refusals, driven by hand (no I/O)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firmware_bridge.capture import CaptureConfig, Refusal, SignatureCapture
from firmware_bridge.protocols.base import Damage, Done
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
    stroke(cap, 3, t0_ms=200, now0=0.2, down=False)      # lifted
    assert isinstance(cap.request_end(), Signature) and cap.request_end() is None


def test_host_request_while_the_pen_is_down_is_too_short_not_a_signature():
    cap = SignatureCapture(CFG)
    stroke(cap, 40)                                    # 0.39 s of ink, the pen still down
    r = cap.request_end()
    assert isinstance(r, Refusal) and r.kind == "too_short" and "before the pen was lifted" in r.reason
    assert cap.active is False and cap.request_end() is None


def test_host_request_just_after_a_lift_is_too_short_and_after_the_gap_a_signature():
    for ok_at, ends_as in ((0.39 + 0.1, Refusal), (0.39 + 0.25, Signature)):
        cap = SignatureCapture(CFG)
        stroke(cap, 40)                                # last pen-down at host time 0.39 s
        stroke(cap, 2, t0_ms=400, now0=0.40, down=False)
        assert isinstance(cap.request_end(ok_at), ends_as), ok_at


def test_too_short_refused():
    cap = SignatureCapture(CFG)
    stroke(cap, 5)                                     # 5 points, 40 ms
    r = cap.feed(Done(), 0.1)
    assert isinstance(r, Refusal) and r.kind == "too_short" and "5 points" in r.reason


def test_too_long_refused_then_ignored_until_lift():
    cap = SignatureCapture(CFG)
    out = stroke(cap, 250)                             # 2.49 s > 2 s
    assert [r.kind for r in out] == ["too_long"]
    assert cap.active is False
    assert cap.tick(2.48 + 0.5) is None                # the lift re-arms it
    assert stroke(cap, 20, t0_ms=5000, now0=5.0) == []
    stroke(cap, 2, t0_ms=5200, now0=5.2, down=False)
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


def test_damage_inside_a_signature_refuses_it_with_the_counts():
    cap = SignatureCapture(CFG)
    stroke(cap, 10)
    assert cap.feed(Damage("resync", 7), 0.1) is None
    assert cap.feed(Damage("jump"), 0.1) is None
    stroke(cap, 10, t0_ms=100, now0=0.1)
    r = cap.feed(Done(), 0.3)
    assert isinstance(r, Refusal) and r.kind == "damaged" and r.n_samples == 20
    assert r.damage == (("jump", 1), ("resync", 7))
    assert r.reason == "damaged capture (1 impossible jumps, 7 bytes skipped (resync)): sign again"
    assert cap.count == 0                                # not a signature
    stroke(cap, 20, t0_ms=5000, now0=5.0)               # the next one is clean again
    assert isinstance(cap.feed(Done(), 5.3), Signature)


def test_damage_just_before_the_first_pen_down_counts_older_damage_does_not():
    cap = SignatureCapture(CFG)                          # lift timeout 0.5 s
    cap.feed(Damage("crc", 12), 1.0)                     # 0.6 s before: it cannot be this one's start
    cap.feed(Damage("lost", 2), 1.3)                     # 0.3 s before: it may be
    stroke(cap, 20, t0_ms=1600, now0=1.6)
    r = cap.feed(Done(), 1.9)
    assert r.kind == "damaged" and r.damage == (("lost", 2),)


def test_hard_limits_samples_bytes_and_the_hosts_clock():
    # A pad whose clock never moves: the pad's time span stays 0.
    frozen = lambda i: Sample(0.0, float(i % 50), 1.0, 0.5, True)  # noqa: E731
    cap = SignatureCapture(CaptureConfig(lift_timeout_s=0.5, max_samples=100))
    out = [cap.feed(frozen(i), 0.001 * i) for i in range(150)]
    refused = [r for r in out if r is not None]
    assert [r.kind for r in refused] == ["too_long"] and "more than 100 samples" in refused[0].reason
    assert not cap.active                                # the rest is discarded, not kept
    cap = SignatureCapture(CaptureConfig(lift_timeout_s=0.5, max_bytes=1000))
    cap.feed(frozen(0), 0.0)
    assert cap.received(999, 0.0) is None
    assert "more than 1000 bytes" in cap.received(2, 0.0).reason
    cap = SignatureCapture(CaptureConfig(lift_timeout_s=0.5, max_wall_s=2.0))
    out = [cap.feed(frozen(i), 0.1 * i) for i in range(30)]   # a report every 0.1 s of the host's clock
    refused = [(i, r) for i, r in enumerate(out) if r is not None]
    assert [(i, r.kind) for i, r in refused] == [(21, "too_long")]       # 2.1 s > 2 s
    assert "longer than 2 s on the host's clock" in refused[0][1].reason


ENDLESS_PAD = textwrap.dedent("""
    # A sigpad-protocol pad whose clock barely moves, streaming pen-down reports
    # for ever (here 2 million), read as Pad.signatures() reads: stream, then capture.
    import resource, sys, time
    from firmware_bridge.capture import SignatureCapture
    from firmware_bridge.protocols import sigpad
    from firmware_bridge.protocols.base import PenReport
    from firmware_bridge.stream import SampleStream
    FRAMES, BATCH = 4096, 16                     # 16 chunks of 4096 frames: the sequence wraps exactly
    reports = [PenReport(20000 + k % 1000, 20000, 2000, True, True, 0, 0, 0, k // 1000) for k in range(FRAMES * BATCH)]
    chunks = [sigpad.encode(reports, seq)[0] for seq in range(0, 65536, FRAMES)]
    stream, cap = SampleStream("sigpad"), SignatureCapture()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refusals, now, n = [], 0.0, 0
    while n < 2_000_000:
        data = chunks[(n // (FRAMES * BATCH)) % len(chunks)]
        for k in range(0, len(data), 4096):
            now += 0.001
            part = data[k:k + 4096]
            done = cap.received(len(part), now)
            refusals += [done] if done else []
            for item in stream.feed(part, now):
                done = cap.feed(item, now)
                refusals += [done] if done else []
        n += FRAMES * BATCH
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(stream.stats.samples, len(refusals), refusals[0].kind, refusals[0].n_samples, grown // 1024, cap.active)
""")


@pytest.mark.slow
def test_a_pad_that_streams_for_ever_is_cut_off_with_bounded_memory():
    # The pad: 2 million samples took 508 MB. The capture now refuses
    # at max_samples (30 000) and discards the rest while the pen stays down.
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", ENDLESS_PAD], cwd=root, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    samples, refusals, kind, kept, grown_mb, active = r.stdout.split()
    assert int(samples) >= 2_000_000
    assert (int(refusals), kind, int(kept), active) == (1, "too_long", 30_001, "False")
    # 30 001 samples held at the cut-off, about 150 bytes each: a few MB, not hundreds.
    assert int(grown_mb) < 40
