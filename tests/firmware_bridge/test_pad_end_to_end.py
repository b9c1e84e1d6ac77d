"""End to end over a real pty with real pyserial, at real pace, per protocol.

The virtual pad (the product's own) plays a signature; ``open_pad`` on the
host side must deliver exactly what was sent (as the pad's units allow).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time

import numpy as np
import pytest
from conftest import loop_signature

from firmware_bridge.capture import CaptureConfig, Refusal
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

    def get(self, timeout=10.0):
        return self.items.get(timeout=timeout)


@contextlib.contextmanager
def connected(protocol, config=FAST_END, **vpad_args):
    with VirtualPad(protocol, **vpad_args) as vpad:
        pad = open_pad(vpad.path, protocol, config=config)
        col = Collector(pad)
        col.start()
        try:
            assert vpad.wait_streaming()
            yield vpad, pad, col
        finally:
            pad.close()
            col.join(5)
            assert not col.is_alive()


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def assert_same(got: Signature, sent: Signature, vpad: VirtualPad):
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
    else:                                # stamped on arrival: paced in real time
        assert got.duration_ms == pytest.approx(sent.duration_ms / vpad.speed, abs=150)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_signature_arrives_intact(protocol):
    sent = loop_signature()
    with connected(protocol) as (vpad, pad, col):
        t0 = time.monotonic()
        vpad.sign(sent)
        got = col.get()
        assert time.monotonic() - t0 >= sent.duration_ms / 1000 * 0.9   # real pace
        assert_same(got, sent, vpad)
        assert pad.caps_reported == vpad.protocol.query
        assert pad.stats.resyncs == 0 and pad.stats.lost_frames == 0
        assert pad.stats.signatures == 1


def test_real_svc2004_signature_over_isdv4(svc_sig):
    with connected("isdv4", speed=2.0) as (vpad, _pad, col):
        vpad.sign(svc_sig)
        assert_same(col.get(), svc_sig, vpad)


def test_damage_mid_signature_is_refused_counted_and_the_next_signature_passes():
    sent = loop_signature(n=200)
    with connected("sigpad") as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 30)
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


@pytest.mark.parametrize("protocol", ["isdv4", "topaz"])
def test_line_noise_mid_signature_is_refused_as_damaged(protocol):
    sent = loop_signature(n=200)
    with connected(protocol) as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 30)
        vpad.inject_garbage(64, seed=1)
        vpad.corrupt_frames(1)
        got = col.get()
        # No checksum: the noise is seen as skipped bytes, and refused as damage.
        assert isinstance(got, Refusal) and got.kind == "damaged", got
        assert sum(n for _, n in got.damage) >= 1 and pad.stats.resyncs >= 1
        second = loop_signature(seed=5)
        vpad.sign(second)
        assert_same(col.get(), second, vpad)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unplug_and_replug_mid_signature(protocol):
    sent = loop_signature(n=200)
    with connected(protocol) as (vpad, pad, col):
        vpad.sign(sent)
        wait_for(lambda: pad.stats.samples >= 40)
        vpad.unplug()
        refusal = col.get()
        assert isinstance(refusal, Refusal) and refusal.kind == "disconnected"
        time.sleep(0.2)                  # the host retries while nothing is there
        vpad.replug()
        wait_for(lambda: pad.stats.reconnects == 1)
        assert vpad.wait_streaming()
        vpad.wait_idle(5)                # the rest of the first replay...
        time.sleep(FAST_END.lift_timeout_s + 0.2)
        while not col.items.empty():     # ...arrives as a signature of its own
            col.get()
        second = loop_signature(seed=3)
        vpad.sign(second)
        assert_same(col.get(), second, vpad)
        assert pad.stats.disconnects == 1


def test_done_button_ends_without_waiting():
    slow_end = CaptureConfig(lift_timeout_s=10.0)
    sent = loop_signature()
    with connected("sigpad", config=slow_end) as (vpad, _pad, col):
        vpad.sign(sent, done=True).wait(5)
        t = time.monotonic()
        assert_same(col.get(), sent, vpad)
        assert time.monotonic() - t < 1.0


def test_host_request_ends_signature():
    slow_end = CaptureConfig(lift_timeout_s=10.0)
    sent = loop_signature()
    with connected("sigpad", config=slow_end) as (vpad, pad, col):
        vpad.sign(sent, done=False).wait(5)
        time.sleep(0.3)                   # lifted for longer than HOST_END_LIFT_S: an OK, not a cut
        pad.request_end()
        assert_same(col.get(1.0), sent, vpad)


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
        wait_for(lambda: pad.stats.caps_refused == 2)
        assert pad.caps == asked and "not asked for" in pad.caps_refused
        time.sleep(FAST_END.lift_timeout_s + 0.1)   # noise this long before a signature is not its start
        sent = loop_signature()
        vpad.sign(sent)
        assert_same(col.get(), sent, vpad)             # pressure still scaled by 1023
        vpad.sign(loop_signature(seed=2), done=False)
        wait_for(lambda: pad.stats.samples >= len(sent) + 30)
        vpad.inject_garbage(isdv4.encode_query_reply(Capabilities(26202, 16325, 300, 0, 0)))
        refused = col.get()                            # inside a signature it is damage
        assert isinstance(refused, Refusal) and dict(refused.damage) == {"caps": 1}
        assert pad.caps == asked
