"""Clear pressed while the pen is still on the pad: the rest of that stroke is never judged.

A real virtual pad on a pty writes one long single stroke; Clear is pressed
while it is being written. Before the fix the stroke's remainder became a
signature of its own (or a too-short refusal) and answered the request. Now
the first thing the request gets is the next signature, whole.
"""

from __future__ import annotations

import queue
import time

import numpy as np
import pytest

from edge.app.livepad import LivePad
from firmware_bridge.capture import CaptureConfig
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad

CAPS = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)


def one_stroke(seconds: float, cycles: float) -> Signature:
    """A single pen-down stroke: a sine wave written left to right, 200 samples a second."""
    n = int(seconds * 200)
    t = np.arange(n) * 5.0
    x = 1000 + 12000 * np.arange(n) / n
    y = 3750 + 2000 * np.sin(np.linspace(0, 2 * np.pi * cycles, n))
    return Signature.create(t_ms=t, x=x, y=y, pen_down=np.ones(n, bool), pressure=np.full(n, 0.5))


@pytest.mark.parametrize("ends_with", ["done", "silence"])
def test_clear_mid_stroke_drops_the_rest_of_the_stroke(ends_with):
    """The cleared stroke ends with the pad's Done button, or with the pen lifted and a
    pause longer than the lift timeout (a pad with no button), as a person would pause."""
    long_stroke, next_one = one_stroke(4.0, 3), one_stroke(1.0, 2)
    inks: queue.Queue[dict] = queue.Queue()
    with VirtualPad("sigpad", speed=1.0, caps=CAPS) as vpad:
        pad = LivePad(vpad.path, "sigpad", CaptureConfig(lift_timeout_s=0.5),
                      lambda e: inks.put(e) if e["event"] == "ink" else None)
        try:
            assert vpad.wait_streaming(20)
            pad.armed = True
            job = vpad.sign(long_stroke, done=ends_with == "done")
            for _ in range(100):                      # half a second of the stroke is written
                inks.get(timeout=20)
            pad.clear()
            assert not job.finished.is_set(), "the stroke ended before Clear: the test proves nothing"
            assert job.wait(30)
            if ends_with == "silence":
                time.sleep(4 * 0.5)                   # at least the lift timeout: a new signature
            vpad.sign(next_one, done=False)
            item = pad.next(30)
            assert isinstance(item, Signature), item
            # the next signature, whole: not the cleared stroke's tail (it had 800 - 100 - some samples)
            assert len(item) == len(next_one) == 200
            assert np.allclose(item.x[0], next_one.x[0], atol=2)
        finally:
            pad.close()


def test_a_signature_begun_before_the_request_never_answers_it():
    """A busy reader may finish a signature nobody asked for after a request has armed the pad
    (a test under load saw an unasked genuine signature answer the next verify): it is dropped,
    and the request gets the next signature, whole."""
    early, asked = one_stroke(2.0, 3), one_stroke(1.0, 2)
    with VirtualPad("sigpad", speed=1.0, caps=CAPS) as vpad:
        pad = LivePad(vpad.path, "sigpad", CaptureConfig(lift_timeout_s=0.5), lambda e: None)
        try:
            assert vpad.wait_streaming(20)
            job = vpad.sign(early, done=True)
            deadline = time.monotonic() + 60
            while pad._began is not False:              # its first pen-down seen, nothing armed
                assert time.monotonic() < deadline and not job.finished.is_set(), "no unasked start seen"
                time.sleep(0.005)
            pad.armed = True                            # the request arrives mid-signature
            assert job.wait(30)
            vpad.sign(asked, done=True)
            item = pad.next(30)
            assert isinstance(item, Signature) and len(item) == len(asked) == 200, item
        finally:
            pad.close()
