"""The pad's event stream: one record per kind, what an observer of ``Pad.signatures`` sees."""

from __future__ import annotations

import math
import queue
import threading
import time
import typing

import numpy as np
import pytest

from firmware_bridge.capture import DISCONNECTED, CaptureConfig, Refusal
from firmware_bridge.pad import open_pad
from firmware_bridge.pad_events import PadEvent, Read, StreamEvent, Unplugged
from firmware_bridge.protocols.base import Capabilities, Damage, Done, Status
from firmware_bridge.signature import Sample, Signature
from firmware_bridge.virtual import VirtualPad


def a_loop(n: int = 200, rate_hz: float = 200.0) -> Signature:
    """One pen-down loop, ``n`` samples (1 s at 200 Hz), inside every pad's range."""
    i = np.arange(n)
    return Signature.create(t_ms=i * 1000.0 / rate_hz, x=np.round(5000 + 3000 * np.sin(2 * math.pi * i / n)),
                            y=np.round(4000 + 1500 * np.sin(4 * math.pi * i / n)),
                            pressure=np.full(n, 0.5), source="loop")


def test_each_kind_is_a_small_immutable_record_with_a_readable_repr():
    assert repr(Read(12)) == "Read(n=12)"
    assert repr(Unplugged("/dev/ttyUSB0: pad went away")) == "Unplugged(reason='/dev/ttyUSB0: pad went away')"
    assert Read(0) == Read(0) != Read(1) and Read(3).n == 3
    with pytest.raises(AttributeError):
        Read(1).n = 2
    with pytest.raises(AttributeError):
        Unplugged("x").reason = "y"


def test_the_union_names_every_kind_once():
    kinds = set(typing.get_args(PadEvent))
    assert kinds == {Sample, Damage, Done, Status, Capabilities, Read, Unplugged}
    assert set(typing.get_args(StreamEvent)) == kinds - {Read, Unplugged}
    assert not isinstance(3, PadEvent) and not isinstance(None, PadEvent)   # no bare ints or None any more


class Observed(threading.Thread):
    """Runs ``pad.signatures(observe=...)`` in a thread, keeping every event and every result."""

    def __init__(self, pad):
        super().__init__(daemon=True)
        self.pad, self.events, self.results = pad, [], queue.Queue()

    def run(self):
        for item in self.pad.signatures(observe=self.events.append):
            self.results.put(item)

    def since(self, start: int) -> list:
        return self.events[start:]


def wait_for(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_the_observer_sees_ink_reads_and_an_unplug():
    sent = a_loop()
    with VirtualPad("sigpad", speed=2.0) as vpad:
        pad = open_pad(vpad.path, "sigpad", config=CaptureConfig(lift_timeout_s=0.3))
        obs = Observed(pad)
        obs.start()
        try:
            assert vpad.wait_streaming()
            vpad.sign(sent, done=True)
            got = obs.results.get(timeout=10)
            assert isinstance(got, Signature) and len(got) == len(sent)
            events = list(obs.events)
            assert all(isinstance(e, PadEvent) for e in events), {type(e) for e in events}
            samples = [e for e in events if isinstance(e, Sample)]
            assert len(samples) == len(sent) and any(isinstance(e, Done) for e in events)
            # every decoded event is followed by the read it came in
            last_read = max(i for i, e in enumerate(events) if isinstance(e, Read) and e.n > 0)
            assert last_read > max(i for i, e in enumerate(events) if isinstance(e, Done))
            assert 0 < sum(e.n for e in events if isinstance(e, Read)) <= pad.stats.bytes_in

            vpad.sign(a_loop(n=400), done=False)
            wait_for(lambda: pad.stats.samples >= len(sent) + 40)
            before = len(obs.events)
            vpad.unplug()
            refused = obs.results.get(timeout=10)
            assert isinstance(refused, Refusal) and refused.kind == DISCONNECTED
            unplugs = [i for i, e in enumerate(obs.since(before)) if isinstance(e, Unplugged)]
            assert len(unplugs) == 1 and vpad.path in obs.since(before)[unplugs[0]].reason

            at_unplug = before + unplugs[0]
            vpad.replug()
            wait_for(lambda: any(isinstance(e, Read) for e in obs.since(at_unplug)))  # it answers again
            assert pad.stats.reconnects == 1
        finally:
            pad.close()
            obs.join(5)
            assert not obs.is_alive()
