"""A store whose replay history was written before shapes were kept (issue #23) keeps
working: its rows hold timed traces (``Trace.to_bytes``, "T1"), still compared by the
trace measure; new accepts keep shapes ("S1") and are compared by shape. The real
int8 model, a real SQLite store, SVC2004 signatures."""

import numpy as np
import pytest

from bench.replay_transforms import uneven
from edge import replay
from firmware_bridge.signature import Signature

pytestmark = pytest.mark.data
NEW_PATH = replay.path


class _TimedOnly(replay.Path):
    """A path stored as the code before shapes stored it: its timed trace's bytes."""

    def to_bytes(self) -> bytes:
        assert self.trace is not None
        return self.trace.to_bytes()


def kept_formats(v, user="alice"):
    return [a.trace[:2] for a in v.store.history(user).attempts if a.trace]


def test_rows_written_before_shapes_are_still_compared_and_new_ones_get_shapes(make_verifier, sig, monkeypatch):
    v = make_verifier()
    with monkeypatch.context() as old_code:
        old_code.setattr(replay, "path", lambda s: None if (p := NEW_PATH(s)) is None else _TimedOnly(p.shape, p.trace))
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
        assert v.verify("alice", sig(1, 9)).accepted
    assert kept_formats(v) == [b"T1"] * 7                     # 1 accept + 6 enrolment signatures
    s = sig(1, 9)                                             # the old accept re-sent, every 2nd sample
    thinned = Signature.create(s.t_ms[::2], s.x[::2], s.y[::2], s.pen_down[::2], s.pressure[::2])
    d = v.verify("alice", thinned)
    assert (d.reason, d.detail.startswith("runs along an earlier signature's path")) == ("replay", True)
    d = v.verify("alice", sig(1, 10))                         # the store takes new accepts,
    assert d.accepted and kept_formats(v)[0] == b"S1"         # kept as shapes
    for r in uneven(sig(1, 10), 10):
        d = v.verify("alice", r)
        assert d.reason == "replay" and "whatever its timing" in d.detail
    assert np.all([f in (b"T1", b"S1") for f in kept_formats(v)])
