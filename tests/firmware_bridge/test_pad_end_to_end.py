"""End to end over a real pty with real pyserial, at real pace, per protocol.

The virtual pad (the product's own) plays a signature; ``open_pad`` on the
host side must deliver exactly what was sent (as the pad's units allow).

The tests wait for what they expect (``helpers.waiting``), bounded so that a
busy machine passes: a length of time is only slept where it is a lower bound
(a silence at least this long), never to let something happen in the meantime.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time

import numpy as np
import pytest
from helpers.signatures import loop_signature
from helpers.waiting import PATIENCE_S, wait_for

from firmware_bridge.capture import HOST_END_LIFT_S, CaptureConfig, Refusal
from firmware_bridge.pad import open_pad
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad, reports_for

FAST_END = CaptureConfig(lift_timeout_s=0.3)
PROTOCOLS = ["isdv4", "sigpad", "topaz"]


class Collector(threading.Thread):
    """Runs ``pad.signatures()`` in a thread, as the edge would."""

    def __init__(self, pad):
        super().__init__(daemon=True)
        self.pad, self.items = pad, queue.Queue()

    def run(self):
        for item in self.pad.signatures():
            self.items.put(item)

    def get(self, timeout=PATIENCE_S):
        return self.items.get(timeout=timeout)


@contextlib.contextmanager
def connected(protocol, config=FAST_END, **vpad_args):
    with VirtualPad(protocol, **vpad_args) as vpad:
        pad = open_pad(vpad.path, protocol, config=config)
        col = Collector(pad)
        col.start()
        try:
            assert vpad.wait_streaming(PATIENCE_S)
            yield vpad, pad, col
        finally:
            pad.close()
            col.join(5)
            assert not col.is_alive()


def assert_same(got: Signature, sent: Signature, vpad: VirtualPad, within_s: float | None = None):
    """``got`` is ``sent`` as the pad sends it; for a pad without a clock, stamped on arrival
    in the ``within_s`` seconds from signing to receiving."""
    expect = reports_for(sent, vpad.caps)
    assert isinstance(got, Signature), got
    assert len(got) == len(expect)
    np.testing.assert_array_equal(got.x, [r.x for r in expect])
    np.testing.assert_array_equal(got.y, [r.y for r in expect])
    np.testing.assert_array_equal(got.pen_down, sent.pen_down)
    if vpad.caps.max_pressure:
        np.testing.assert_allclose(got.pressure, [r.pressure / vpad.caps.max_pressure for r in expect])
    else:
        assert got.pressure is None
    sent_dt = np.diff(sent.t_ms)
    if vpad.protocol.has_clock:          # device microseconds: exact
        np.testing.assert_allclose(np.diff(got.t_ms), sent_dt, atol=1e-3)
    else:                                # stamped on arrival: when it arrived, in order
        # (how closely the stamps follow the pace depends on how busy the machine is:
        # test_signature_arrives_intact checks the pace itself, as a lower bound)
        assert np.all(np.diff(got.t_ms) >= 0) and got.duration_ms > 0
        if within_s is not None:
            assert got.duration_ms <= within_s * 1000


def next_like(col: Collector, sent: Signature, vpad: VirtualPad, skip: int = 2) -> Signature:
    """The next signature ``col`` delivers that is ``sent``, past at most ``skip`` others
    (what was left of a broken-off replay may arrive before it, or not at all)."""
    for _ in range(skip + 1):
        got = col.get()
        try:
            assert_same(got, sent, vpad)
            return got
        except AssertionError:
            continue
    raise AssertionError(f"{sent.source} did not arrive within {skip + 1} deliveries")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_signature_arrives_intact(protocol):
    sent = loop_signature()
    with connected(protocol) as (vpad, pad, col):
        t0 = time.monotonic()
        vpad.sign(sent)
        got = col.get()
        elapsed = time.monotonic() - t0
        assert elapsed >= sent.duration_ms / 1000 * 0.9   # real pace
        assert_same(got, sent, vpad, within_s=elapsed)
        assert pad.caps_reported == vpad.protocol.query
        assert pad.stats.resyncs == 0 and pad.stats.lost_frames == 0
        assert pad.stats.signatures == 1


def test_real_svc2004_signature_over_isdv4(svc_sig):
    with connected("isdv4", speed=2.0) as (vpad, _pad, col):
        vpad.sign(svc_sig)
        assert_same(col.get(), svc_sig, vpad)


@pytest.mark.slow
def test_damage_mid_signature_is_refused_counted_and_the_next_signature_passes():
    sent = loop_signature(n=200)
    with connected("sigpad") as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 30, "30 samples")
        vpad.inject_garbage(b"\x13\x37\x00\xff\xfe\x00")   # two bad frames
        vpad.corrupt_frames(1)
        vpad.drop_frames(2)
        got = col.get()
        st = pad.stats
        assert isinstance(got, Refusal) and got.kind == "damaged", got
        assert "sign again" in got.reason
        # what the refusal counts is what the stream saw: a gap for each
        # dropped frame and one for the frame that failed its CRC
        damage = dict(got.damage)
        assert st.crc_errors == 1 and st.resyncs == 3 and damage["lost"] == st.lost_frames == 3
        assert damage["crc"] == st.skipped["crc"] and st.damaged == 1 and st.signatures == 0
        second = loop_signature(seed=5)
        vpad.sign(second)
        assert_same(col.get(), second, vpad)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["isdv4", "topaz"])
def test_line_noise_mid_signature_is_refused_as_damaged(protocol):
    sent = loop_signature(n=200)
    with connected(protocol) as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 30, "30 samples")
        vpad.inject_garbage(64, seed=1)
        vpad.corrupt_frames(1)
        got = col.get()
        # No checksum: the noise is seen as skipped bytes, and refused as damage.
        assert isinstance(got, Refusal) and got.kind == "damaged", got
        assert sum(n for _, n in got.damage) >= 1 and pad.stats.resyncs >= 1
        second = loop_signature(seed=5)
        vpad.sign(second)
        assert_same(col.get(), second, vpad)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unplug_and_replug_mid_signature(protocol):
    sent = loop_signature(n=200)
    with connected(protocol) as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 40, "40 samples")
        vpad.unplug()
        refusal = col.get()
        assert isinstance(refusal, Refusal) and refusal.kind == "disconnected"
        time.sleep(0.2)                  # the host retries while nothing is there
        vpad.replug()
        wait_for(lambda: pad.stats.reconnects == 1, "the reconnection")
        assert vpad.wait_streaming(PATIENCE_S)
        vpad.wait_idle(PATIENCE_S)       # the rest of the first replay (a signature of its own,
        time.sleep(FAST_END.lift_timeout_s + 0.2)   # ended by this silence at least)...
        second = loop_signature(seed=3)
        vpad.sign(second)
        next_like(col, second, vpad)     # ...comes first, or came and went: either way it is skipped
        assert pad.stats.disconnects == 1


# Only the done button or the host's request can end a signature before this.
NEVER_LIFTS = CaptureConfig(lift_timeout_s=PATIENCE_S, max_wall_s=2 * PATIENCE_S)


def test_done_button_ends_without_waiting():
    sent = loop_signature()
    with connected("sigpad", config=NEVER_LIFTS) as (vpad, _pad, col):
        vpad.sign(sent, done=True).wait(PATIENCE_S)
        assert_same(col.get(timeout=PATIENCE_S * 0.9), sent, vpad)


def test_host_request_ends_signature():
    sent = loop_signature()
    with connected("sigpad", config=NEVER_LIFTS) as (vpad, pad, col):
        vpad.sign(sent, done=False).wait(PATIENCE_S)
        n = len(reports_for(sent, vpad.caps))
        wait_for(lambda: pad.stats.samples >= n, "every sample read")   # and only then the request
        time.sleep(HOST_END_LIFT_S + 0.05)   # lifted for longer than HOST_END_LIFT_S: an OK, not a cut
        pad.request_end()
        assert_same(col.get(timeout=PATIENCE_S * 0.9), sent, vpad)


def test_too_short_is_refused():
    short = loop_signature(n=20)          # 20 points, ~0.1 s + gap: under 300 ms
    with connected("sigpad") as (vpad, pad, col):
        vpad.sign(short)
        r = col.get()
        assert isinstance(r, Refusal) and r.kind == "too_short"
        assert pad.stats.refusals == 1


def test_idle_pad_costs_no_cpu():
    with connected("isdv4"):
        t0, c0 = time.monotonic(), time.process_time()
        time.sleep(1.0)
        cpu = time.process_time() - c0
        assert cpu < 0.05, f"{cpu:.3f} s CPU in {time.monotonic() - t0:.1f} s idle"


@pytest.mark.slow
def test_an_injected_capabilities_reply_changes_nothing():
    # The issue: 11 bytes shaped like a query reply, sent after the handshake,
    # were taken as the pad's new maxima (pressure 300, or 0) until a replug.
    from firmware_bridge.protocols import isdv4
    from firmware_bridge.protocols.base import Capabilities
    with connected("isdv4") as (vpad, pad, col):
        maxima = lambda caps: (caps.max_x, caps.max_y, caps.max_pressure)  # noqa: E731  (what the reply carries)
        assert pad.caps_reported and maxima(pad.caps) == maxima(vpad.caps)
        asked = pad.caps
        for max_pressure in (300, 0):
            vpad.inject_garbage(isdv4.encode_query_reply(Capabilities(26202, 16325, max_pressure, 0, 0)))
        wait_for(lambda: pad.stats.caps_refused == 2, "both replies refused")
        assert pad.caps == asked and "not asked for" in pad.caps_refused
        time.sleep(FAST_END.lift_timeout_s + 0.1)   # noise this long before a signature is not its start
        sent = loop_signature()
        vpad.sign(sent)
        assert_same(col.get(), sent, vpad)             # pressure still scaled by 1023
        vpad.sign(loop_signature(seed=2), done=False)
        wait_for(lambda: pad.stats.samples >= len(sent) + 30, "30 samples more")
        vpad.inject_garbage(isdv4.encode_query_reply(Capabilities(26202, 16325, 300, 0, 0)))
        refused = col.get()                            # inside a signature it is damage
        assert isinstance(refused, Refusal) and dict(refused.damage) == {"caps": 1}
        assert pad.caps == asked
