"""End to end over a real pty: the virtual pad speaks each protocol, the edge
enrols 5 signatures, accepts a genuine one and rejects a skilled forgery.

Pads without a clock (ISDV4, Topaz) are timed by the host, so they replay at
real speed, one user after the other (host scheduling delays would look like
pen lifts); the sigpad protocol carries device time, so its users run side by
side at 8x speed.
Topaz has no pressure: it gets the no-pressure model, as on a device.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from edge_cases import CASES, QUICK_CASES, model_dir_for
from helpers.waiting import PATIENCE_S, wait_for

from edge.app.config import Config
from edge.app.padflow import PadSource, enrol_from_pad, verify_from_pad
from edge.keys import load_keys
from edge.model import Encoder
from edge.store import Store
from edge.verifier import Verifier
from firmware_bridge.capture import HOST_END_LIFT_S, CaptureConfig
from firmware_bridge.virtual import VirtualPad, reports_for

pytestmark = [pytest.mark.data, pytest.mark.slow]

# The lift timeout ends a signature on pads without a "done" message; sigpad has
# one, so there it is only a fallback and is kept long (a busy test machine may
# starve the pad thread for a moment mid-signature).
LIFT_S = {"sigpad": 3.0, "isdv4": 0.8, "topaz": 0.8}
SPEED = {"sigpad": 8.0, "isdv4": 1.0, "topaz": 1.0}  # sigpad sends device time: any speed


class Writer:
    """Signs on the virtual pad one signature at a time. On pads without a
    "done" message the writer then presses the host's OK button
    (``request_end``) instead of waiting out the lift timeout."""

    def __init__(self, vpad: VirtualPad, source: PadSource, protocol: str):
        self.vpad, self.source, self.clocked = vpad, source, protocol == "sigpad"

    def sign(self, *sigs):
        def run():
            for s in sigs:
                read = self.source.pad.stats.samples
                self.vpad.sign(s, wait=True, timeout=PATIENCE_S)
                if not self.clocked:    # once the host has read all of it (not after some time)
                    want = read + len(reports_for(s, self.vpad.caps))
                    wait_for(lambda want=want: self.source.pad.stats.samples >= want, "the host reads the signature")
                    time.sleep(HOST_END_LIFT_S + 0.05)   # the pen lifted, then OK (sooner: too short, not judged)
                    self.source.pad.request_end()
                time.sleep(0.1)         # a pause between signatures
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


def make_verifier(tmp_path, name, has_pressure):
    store = Store(tmp_path / f"{name}.db", load_keys(tmp_path / "store.key"))
    return Verifier(Encoder(model_dir_for(has_pressure)), store, Config(lockout_after=0))


def one_user(protocol, tmp_path, sig, user, genuine, forgery):
    with VirtualPad(protocol, speed=SPEED[protocol]) as vpad, \
            PadSource(vpad.path, protocol, CaptureConfig(lift_timeout_s=LIFT_S[protocol])) as src:
        assert vpad.wait_streaming(PATIENCE_S)
        v = make_verifier(tmp_path, f"{protocol}-{user}", src.has_pressure)
        said = []
        Writer(vpad, src, protocol).sign(*[sig(user, s) for s in range(1, 7)])
        enrolment = enrol_from_pad(v, src, f"u{user}", timeout_s=30, say=said.append)
        Writer(vpad, src, protocol).sign(sig(user, genuine))
        ok = verify_from_pad(v, src, f"u{user}", timeout_s=30)
        Writer(vpad, src, protocol).sign(sig(user, forgery))
        bad = verify_from_pad(v, src, f"u{user}", timeout_s=30)
        v.close()
        return enrolment, ok, bad, said


@pytest.mark.parametrize("protocol", ["isdv4", "sigpad", "topaz"])
def test_enrol_accept_genuine_reject_forgery(protocol, tmp_path, sig):
    model_dir_for(protocol != "topaz")  # skip early without the model
    cases = CASES if protocol == "sigpad" else QUICK_CASES
    with ThreadPoolExecutor(len(cases) if protocol == "sigpad" else 1) as pool:
        runs = [pool.submit(one_user, protocol, tmp_path, sig, *case) for case in cases]
        results = [r.result(timeout=120) for r in runs]
    for (user, _, _), (enrolment, ok, bad, said) in zip(cases, results):
        assert len(enrolment.templates) == 6, said
        assert (ok.accepted, ok.reason) == (True, "match"), (user, ok)
        assert (bad.accepted, bad.reason) == (False, "no-match"), (user, bad)


def test_garbage_and_unplug_reject_then_the_pad_carries_on(tmp_path, sig):
    protocol = "sigpad"
    with VirtualPad(protocol, speed=4.0) as vpad, \
            PadSource(vpad.path, protocol, CaptureConfig(lift_timeout_s=0.5)) as src:
        assert vpad.wait_streaming(PATIENCE_S)
        v = make_verifier(tmp_path, "faults", True)
        v.enrol("u1", [sig(1, s) for s in range(1, 7)])
        vpad.inject_garbage(4096, seed=1)                    # noise on the line: no signature
        d = verify_from_pad(v, src, "u1", timeout_s=1.5)
        # Bytes and no frame (the noise's tail swallows the next heartbeat) unless a
        # second heartbeat falls in the window, by the phase of the pad's 1 s beat.
        assert not d.accepted and d.reason in ("pad-garbled", "capture-failed"), d
        vpad.sign(sig(1, 8), done=False)                     # unplugged half way through
        time.sleep(0.3)
        vpad.unplug()
        d = verify_from_pad(v, src, "u1", timeout_s=10)
        assert (d.accepted, d.reason) == (False, "capture-failed") and "disconnect" in d.detail
        vpad.replug()
        assert vpad.wait_streaming(10)
        vpad.wait_idle(10)                  # what was left of the broken-off signature
        time.sleep(0.8)
        src.drain()
        vpad.sign(sig(1, 9))
        d = verify_from_pad(v, src, "u1", timeout_s=20)
        assert d.accepted, d
        vpad.corrupt_frames(3)                               # damaged frames mid-signature
        vpad.sign(sig(1, 21))
        d = verify_from_pad(v, src, "u1", timeout_s=20)
        assert not d.accepted
        short = sig(1, 10)
        from firmware_bridge.signature import Signature
        tiny = Signature.create(short.t_ms[:12], short.x[:12], short.y[:12], None, short.pressure[:12])
        vpad.sign(tiny)                                      # too short: refused by the capture
        d = verify_from_pad(v, src, "u1", timeout_s=10)
        assert (d.accepted, d.reason) == (False, "capture-failed") and "too short" in d.detail
        v.close()
