"""The shape measure (issue #23): a pen path compared whatever its timing, by arc length.

A replay re-timed unevenly (stretches played at 0.7-1.4x) still runs along the
original path; the timed trace of old did not see it. Built on a synthetic spiral
(distances worked out by hand) and, with the data, on SVC2004 signatures."""

import numpy as np
import pytest

from bench.replay_transforms import retime_unevenly, uneven
from edge.replay import REPLAY_LIKE, TRACE_LIMIT, Path, check, judge, path, trace, trace_distances
from edge.replay_shape import SHAPE_BYTES, SHAPE_LIMIT, SHAPE_POINTS, Shape, shape, shape_distances
from edge.store import Attempt
from firmware_bridge.signature import Signature

REFS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
TEST = np.array([0.0, 0.0, 1.0])                  # cosine 0 to both templates: no embedding match
COSINE = 0.995


def spiral(n=300, turns=2.0, wobble=0.0):
    """A two-turn spiral sampled every 10 ms; ``wobble``: a radial ripple, in pad units."""
    u = np.linspace(0, 1, n)
    r = 1000 + 2000 * u + wobble * np.sin(2 * np.pi * 40 * u)
    return Signature.create(np.arange(n) * 10.0, 5000 + r * np.cos(2 * np.pi * turns * u),
                            5000 + r * np.sin(2 * np.pi * turns * u), pressure=np.full(n, 0.5))


def kept(sig) -> Attempt:
    return Attempt(b"old", b"", True, path(sig).to_bytes(), "enrol")


def test_a_shape_is_small_and_round_trips_through_its_bytes():
    s = shape(spiral())
    data = s.to_bytes()
    assert len(data) == SHAPE_BYTES == 2 + 2 + 4 * SHAPE_POINTS == 516      # header, count, int16 x/y
    back = Shape.from_bytes(data)
    assert np.abs(back.points - s.points).max() <= 0.5 / 4096 + 1e-12
    # unit RMS radius about its centre, whatever the pad's units
    assert np.allclose(s.points.mean(0), 0, atol=1e-9) and np.isclose((s.points ** 2).sum(1).mean(), 1)
    for bad in (b"S1\x05\x00", b"T1" + data[2:], data[:-1], b""):
        with pytest.raises(ValueError):
            Shape.from_bytes(bad)


def test_points_are_evenly_spaced_along_the_path_not_in_time():
    # a straight stroke drawn slowly for its first half (1 unit a sample) and fast for
    # its second (10 units a sample): by arc length the points are evenly spaced
    x = np.r_[np.arange(0, 100), np.arange(100, 1001, 10)].astype(float)
    s = shape(Signature.create(np.arange(len(x)) * 10.0, x, np.zeros(len(x))), n=11)
    steps = np.diff(s.points[:, 0])
    assert np.allclose(steps, steps[0])


def test_an_unevenly_re_timed_path_is_the_same_shape_which_the_timed_trace_missed():
    original = spiral()
    replays = [retime_unevenly(original, seed) for seed in range(5)]
    stored = Shape.from_bytes(shape(original).to_bytes())
    d_shape = [shape_distances(shape(r), [stored])[0] for r in replays]
    d_trace = [trace_distances(trace(r), [trace(original)])[0] for r in replays]
    assert max(d_shape) <= SHAPE_LIMIT
    assert max(d_trace) > TRACE_LIMIT                    # what the rule saw before: some pass
    # a tenth of a turn more is another path, beyond twice the limit
    assert shape_distances(shape(spiral(turns=2.2)), [stored])[0] > 2 * SHAPE_LIMIT


def test_a_ripple_moves_the_shape_by_about_its_size():
    # a radial ripple of 2 % of the RMS radius (about 2160 units for this spiral):
    # the median distance of a point to the path is about 2 % * median |sin| = 1.4 %
    radius = np.sqrt(((np.c_[spiral().x, spiral().y] - (np.c_[spiral().x, spiral().y]).mean(0)) ** 2)
                     .sum(1).mean())
    d = shape_distances(shape(spiral(wobble=0.02 * radius)), [shape(spiral())])[0]
    assert 0.007 < d < 0.02


def test_judge_refuses_a_re_timed_replay_and_marks_a_near_one_replay_like():
    original = spiral()
    history = [kept(original)]
    why = check(b"new", TEST, REFS, [], history, COSINE, path(retime_unevenly(original, 3)))
    assert why is not None and why.startswith("follows an earlier signature's shape")
    # a path a little past the limit: not a replay, but too near to ever adapt from
    radius = np.sqrt(((np.c_[original.x, original.y] - np.c_[original.x, original.y].mean(0)) ** 2).sum(1).mean())
    near = next(w for w in np.linspace(0.005, 0.02, 31) * radius
            if SHAPE_LIMIT < shape_distances(shape(spiral(wobble=w)), [shape(original)])[0]
            <= REPLAY_LIKE * SHAPE_LIMIT)
    finding = judge(b"new", TEST, REFS, [], history, COSINE, path(spiral(wobble=near)))
    assert finding.why is None and finding.replay_like
    far = judge(b"new", TEST, REFS, [], history, COSINE, path(spiral(turns=2.2)))
    assert far.why is None and not far.replay_like
    # no path given (an attempt that would not be accepted): paths are not compared
    assert judge(b"new", TEST, REFS, [], history, COSINE, None).why is None


def test_rows_kept_before_shapes_are_compared_by_their_timed_trace():
    original = spiral()
    old_row = Attempt(b"old", b"", True, trace(original).to_bytes(), "enrol")    # a "T1" row
    thinned = Signature.create(original.t_ms[::2], original.x[::2], original.y[::2])
    assert check(b"new", TEST, REFS, [], [old_row], COSINE, path(thinned)).startswith("runs along")
    # an uneven re-timing that escapes the timed trace is refused only where a shape was kept
    escaped = next(r for r in (retime_unevenly(original, seed) for seed in range(20))
                   if trace_distances(trace(r), [trace(original)])[0] > TRACE_LIMIT)
    assert check(b"new", TEST, REFS, [], [old_row], COSINE, path(escaped)) is None
    assert check(b"new", TEST, REFS, [], [old_row, kept(original)], COSINE, path(escaped)) is not None


def test_a_path_object_keeps_only_its_shape():
    p = path(spiral())
    assert isinstance(p, Path) and p.to_bytes() == shape(spiral()).to_bytes()


@pytest.mark.data
def test_svc2004_uneven_replays_refused_second_signatures_not(sig):
    for user, genuine in ((1, 8), (5, 6), (27, 6)):
        original = sig(user, genuine)
        history = [kept(original)]
        for replay in uneven(original, 100 * user + genuine):
            assert check(b"new", TEST, REFS, [], history, COSINE, path(replay)) is not None
        for other in (genuine + 1, genuine + 2):
            assert check(b"new", TEST, REFS, [], history, COSINE, path(sig(user, other))) is None
