"""The replay rule by hand: re-sent streams, near-identical embeddings, and paths
that survive resampling, re-timing and turning (the issue's transforms)."""

import numpy as np
import pytest

from bench.replay_transforms import TRANSFORMS
from edge.replay import TRACE_LIMIT, Trace, check, path, trace, trace_distances
from edge.store import Attempt
from edge.templates import dequantize, quantize
from firmware_bridge.signature import Signature

REFS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])       # two enrolled templates (exact in int8)
ENROL_MACS = [b"enrol-0", b"enrol-1"]
LIMIT = 0.995


def attempt(mac: bytes, vector) -> Attempt:
    return Attempt(mac, quantize(np.array(vector)), accepted=False)


def test_a_new_signature_is_no_replay():
    # cosines 0.6 and 0.8 to the templates, 0 to the attempt on the third axis
    assert check(b"new", np.array([0.6, 0.8, 0.0]), REFS, ENROL_MACS,
                 [attempt(b"old", [0.0, 0.0, 1.0])], LIMIT) is None


def test_a_re_sent_stream_is_a_replay():
    test = np.array([0.6, 0.8, 0.0])
    for mac, attempts in ((b"enrol-1", []), (b"old", [attempt(b"old", [0.0, 0.0, 1.0])])):
        assert check(mac, test, REFS, ENROL_MACS, attempts, LIMIT) == (
            "byte-identical to an earlier signature: replayed stream")


def test_a_near_copy_of_a_template_or_an_attempt_is_a_replay():
    # (1, 0, 0) is the first template itself: cosine 1
    assert "cosine 1.0000" in check(b"new", np.array([1.0, 0.0, 0.0]), REFS, ENROL_MACS, [], LIMIT)
    # an earlier attempt on the third axis, compared as stored (int8): cosine 1 again
    near = check(b"new", dequantize(quantize(np.array([0.0, 0.0, 1.0]))), REFS, ENROL_MACS,
                 [attempt(b"old", [0.0, 0.0, 1.0])], LIMIT)
    assert near == "embedding practically identical (cosine 1.0000) to an earlier signature: replay"
    # cos(45 degrees) = 0.7071 to both templates: under the limit
    assert check(b"new", np.array([1.0, 1.0, 0.0]) / np.sqrt(2), REFS, ENROL_MACS, [], LIMIT) is None


# --- traces: the path measure ------------------------------------------------------------

def spiral(n=200, turns=2.0, t_scale=1.0):
    """A two-turn spiral sampled every 10 ms (a stand-in for a pen path)."""
    u = np.linspace(0, 1, n)
    r = 1000 + 2000 * u
    return Signature.create(np.arange(n) * 10.0 * t_scale, 5000 + r * np.cos(2 * np.pi * turns * u),
                            5000 + r * np.sin(2 * np.pi * turns * u))


def test_trace_round_trips_through_its_stored_bytes():
    t = trace(spiral())
    back = Trace.from_bytes(t.to_bytes())
    assert len(t.to_bytes()) == 4 + 6 * 200                 # header, int16 x/y, uint16 time
    assert np.abs(back.points - t.points).max() <= 0.5 / 4096 + 1e-12
    assert np.abs(back.tau - t.tau).max() <= 0.5 / 65535 + 1e-12
    with pytest.raises(ValueError):
        Trace.from_bytes(b"T1\x05\x00")


def test_a_path_moved_turned_scaled_or_thinned_is_the_same_path():
    original = trace(spiral())
    s = spiral()
    a = np.radians(20)                                         # any similarity: turned 20 degrees,
    x = 300 + 1.5 * (s.x * np.cos(a) - s.y * np.sin(a))       # scaled 1.5 and moved
    y = -200 + 1.5 * (s.x * np.sin(a) + s.y * np.cos(a))
    moved = Signature.create(s.t_ms * 1.3, x, y)               # and 30 % slower
    every_third = Signature.create(s.t_ms[::3], s.x[::3], s.y[::3])
    d = trace_distances(trace(moved), [original])[0], trace_distances(trace(every_third), [original])[0]
    assert max(d) < 1e-6                                       # on the path, to rounding
    other = trace(spiral(turns=2.2))                           # a tenth of a turn more: another path
    assert trace_distances(other, [original])[0] > 10 * TRACE_LIMIT


def test_a_fit_that_would_shrink_the_attempt_is_no_match():
    # A dot-like attempt could be fitted onto any path by shrinking it to nothing.
    original = trace(spiral())
    tiny = Signature.create(np.arange(50) * 10.0, 5000 + np.arange(50) % 2, 5000 + np.arange(50) % 3)
    assert trace_distances(trace(tiny), [original])[0] == np.inf


def test_check_refuses_an_attempt_along_a_path_kept_as_a_timed_trace():
    # a row written before shapes were kept holds a timed trace: still compared by it
    kept = Attempt(b"old", b"", True, trace(spiral()).to_bytes(), "enrol")
    along = path(Signature.create(spiral().t_ms[::2], spiral().x[::2], spiral().y[::2]))
    why = check(b"new", np.array([0.0, 0.0, 1.0]), REFS, ENROL_MACS, [kept], LIMIT, along)
    assert why.startswith("runs along an earlier signature's path")
    assert check(b"new", np.array([0.0, 0.0, 1.0]), REFS, ENROL_MACS, [kept], LIMIT,
                 path(spiral(turns=2.2))) is None
    # without a path (an attempt that would not be accepted) the paths are not compared
    assert check(b"new", np.array([0.0, 0.0, 1.0]), REFS, ENROL_MACS, [kept], LIMIT, None) is None


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_the_issues_transforms_stay_on_the_path_a_second_signature_does_not(sig, name):
    for user, genuine in ((1, 8), (5, 6), (27, 6)):
        original = Trace.from_bytes(trace(sig(user, genuine)).to_bytes())     # as the store keeps it
        assert trace_distances(trace(TRANSFORMS[name](sig(user, genuine))), [original])[0] <= TRACE_LIMIT
        assert trace_distances(trace(sig(user, genuine + 1)), [original])[0] > 2 * TRACE_LIMIT
