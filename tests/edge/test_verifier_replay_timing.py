"""Replays whatever their timing, through the verifier (issue #23): the real int8 model,
a real SQLite store, SVC2004 signatures. An accepted genuine signature sent again
re-timed unevenly is refused as a replay and adapts nothing; one just past the shape
limit may be accepted but never becomes a reference."""

import numpy as np
import pytest

from bench.replay_transforms import retime_unevenly, uneven
from edge.replay import REPLAY_LIKE
from edge.replay_shape import SHAPE_LIMIT, shape, shape_distances
from firmware_bridge.signature import Signature

pytestmark = pytest.mark.data


def test_an_accepted_signature_re_timed_unevenly_is_refused_as_a_replay(make_verifier, sig):
    v = make_verifier(adapt=True, adapt_margin=0.0)
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    assert v.verify("alice", sig(1, 9)).accepted
    templates = v.store.load("alice", v.model_sha).templates
    for replay in uneven(sig(1, 9), 9):
        d = v.verify("alice", replay)
        assert (d.accepted, d.reason, d.adapted) == (False, "replay", "")
        assert "whatever its timing" in d.detail
    assert v.store.load("alice", v.model_sha).templates == templates       # no reference replaced
    assert v.verify("alice", sig(1, 10)).accepted                          # the writer still passes


def rippled(s: Signature, amplitude: float) -> Signature:
    """``s`` with a ripple of ``amplitude`` pad units every 13 samples (a replay redrawn unsteadily)."""
    u = np.arange(len(s))
    return Signature.create(s.t_ms, s.x + np.round(amplitude * np.sin(2 * np.pi * u / 13)),
                            s.y + np.round(amplitude * np.cos(2 * np.pi * u / 13)), s.pen_down, s.pressure)


def test_a_replay_like_attempt_is_never_adapted_from(make_verifier, sig):
    original = sig(1, 9)
    # a re-timed copy rippled until its shape is just past the limit: not a replay,
    # but within REPLAY_LIKE times the limit of the accepted original
    retimed = retime_unevenly(original, 1)
    near = next(p for p in (rippled(retimed, a) for a in range(10, 60, 2))
                if SHAPE_LIMIT < shape_distances(shape(p), [shape(original)])[0] <= REPLAY_LIKE * SHAPE_LIMIT)
    v = make_verifier(adapt=True, adapt_margin=0.0)
    for user in ("alice", "bob"):
        v.enrol(user, [sig(1, s) for s in range(1, 7)])
    assert v.verify("alice", original).accepted                # alice's history now holds its shape
    d = v.verify("alice", near)
    assert (d.accepted, d.adapted) == (True, "")
    control = v.verify("bob", near)                            # bob never sent the original:
    assert control.accepted and control.adapted.startswith("reference ")   # the same attempt adapts
