"""A signature too simple to be a reference: the measures by hand, the verdict, the floors."""

import itertools
import math

import numpy as np
import pytest
from helpers.signatures import circle_signature as circle
from helpers.signatures import cursive_signature
from helpers.signatures import line_signature as line

from edge.complexity import FLOORS, Complexity, Floors, measure, refuse_weak, strokes
from edge.errors import EnrolmentError
from firmware_bridge.signature import Signature


def stroke(xs, ys, ms_per_point: float = 10.0, start_ms: float = 0.0) -> tuple:
    t = start_ms + np.arange(len(xs)) * ms_per_point
    return t, np.asarray(xs, float), np.asarray(ys, float)


def sig(*parts: tuple) -> Signature:
    t, x, y = (np.concatenate([p[k] for p in parts]) for k in range(3))
    return Signature.create(t_ms=t, x=x, y=y)


def dot() -> Signature:
    rng = np.random.default_rng(1)
    return sig(stroke(rng.integers(0, 3, 40), rng.integers(0, 3, 40)))    # 390 ms held in place


def initials_m() -> Signature:
    """"M" in one stroke: up 1000, down-right to the middle, up-right, down 1000; 1.2 s."""
    corners = np.array([[0, 0], [0, 1000], [400, 400], [800, 1000], [800, 0]], float)
    pts = np.concatenate([np.linspace(a, b, 30, endpoint=False) for a, b in itertools.pairwise(corners)]
                         + [corners[-1:]])
    return sig(stroke(pts[:, 0], pts[:, 1], 1200 / (len(pts) - 1)))


def test_a_line_by_hand():
    c = measure(line())
    # 1 stroke, 49 steps of 10 ms, path = size = 1000, no turn at all
    assert (c.strokes, c.pen_down_ms) == (1, 490.0)
    assert c.path_ratio == pytest.approx(1.0)
    assert c.turning_rad == pytest.approx(0.0, abs=1e-9)
    assert c.weaknesses() == ("too short (0.49 s of writing)", "too little path (1.0 times its size)",
                              "too little turning (0 degrees)")


def test_a_circle_by_hand():
    c = measure(circle())
    # 100 chords of a circle of diameter 1000: path 100 * 1000 sin(pi/100) = 3141.1; size 1000
    assert c.path_ratio == pytest.approx(100 * math.sin(math.pi / 100), abs=1e-6)
    # resampled every 1000/64 = 15.625 of path: 201 points (the last at 3125), 200 pieces,
    # 199 turns of 15.625/500 rad each = 6.219 rad, a full turn less what the ends lose
    assert c.turning_rad == pytest.approx(199 * 15.625 / 500, abs=0.005)
    assert (c.strokes, c.pen_down_ms) == (1, 1000.0)
    assert c.weaknesses() == ("too little turning (356 degrees)",)


def test_one_stroke_initials_by_hand():
    c = measure(initials_m())
    # path 1000 + 2 * hypot(400, 600) + 1000 = 3442.2 over size 1000
    assert c.path_ratio == pytest.approx((2000 + 2 * math.hypot(400, 600)) / 1000, rel=1e-9)
    # three corners: 90 - (-56.3) = 146.3, 112.6, 146.3 degrees = 405.2 degrees
    turn = math.atan2(600, 400)
    assert c.turning_rad == pytest.approx(2 * (math.pi / 2 + turn) + 2 * turn, abs=0.05)
    assert c.weaknesses() == (f"too little turning ({math.degrees(c.turning_rad):.0f} degrees)",)


def test_a_dot_is_too_short():
    c = measure(dot())
    assert c.strokes == 1 and c.pen_down_ms == 390.0
    assert "too short (0.39 s of writing)" in c.weaknesses()


def test_a_slow_line_is_still_refused_for_its_shape():
    c = measure(line(ms=3000.0))
    assert c.weaknesses() == ("too little path (1.0 times its size)", "too little turning (0 degrees)")


def test_a_real_looking_signature_passes():
    for seed in range(3):
        c = measure(cursive_signature(seed=seed))
        # 6 loops of at least a full turn each: over 6 * 2 pi = 37.7 rad less the ends
        assert c.strokes == 2 and c.turning_rad > 6 * 2 * math.pi - 2
        assert c.weaknesses() == ()


def test_enough_strokes_are_never_refused_and_each_floor_counts():
    simple = Complexity(strokes=1, pen_down_ms=5000.0, path_ratio=10.0, turning_rad=100.0)
    assert simple.weaknesses() == ()
    floors = Floors(strokes=3, pen_down_ms=700.0, path_ratio=1.2, turning_rad=16.0)
    for field, low in (("pen_down_ms", 699.0), ("path_ratio", 1.19), ("turning_rad", 15.9)):
        weak = Complexity(**{**simple.__dict__, field: low})
        assert len(weak.weaknesses(floors)) == 1, field
        assert Complexity(**{**weak.__dict__, "strokes": 3}).weaknesses(floors) == ()
    assert Complexity(**{**simple.__dict__, "turning_rad": 16.0}).weaknesses(floors) == ()  # at the floor: fine


def test_the_shipped_floors_are_the_measured_ones():
    # docs/edge.md and bench_complexity: below every real genuine signature of 1-2 strokes
    # (931 ms, 2.37 times the size, 22.6 rad at least), above a circle (2 pi) and a line (1)
    assert Floors(strokes=3, pen_down_ms=700.0, path_ratio=1.2, turning_rad=16.0) == FLOORS


def test_strokes_count_lifts_and_long_pauses():
    t = np.arange(30) * 10.0
    t[20:] += 100                          # a pause of 110 ms between samples 19 and 20: a lift
    down = np.ones(30, bool)
    down[8:10] = False                      # two pen-up samples: another lift
    s = Signature.create(t_ms=t, x=np.arange(30.0), y=np.arange(30.0) % 7, pen_down=down)
    runs = strokes(s)
    assert [list(r[[0, -1]]) for r in runs] == [[0, 7], [10, 19], [20, 29]]
    assert len(runs) == s.n_strokes == 3
    # pen-down time: 70 + 90 + 90 ms (the pen-up samples and the pause are not writing)
    assert measure(s).pen_down_ms == 250.0


def test_refuse_weak_names_every_weak_signature_and_asks_for_the_full_one():
    good = cursive_signature()
    refuse_weak([good, cursive_signature(seed=1)])          # nothing to refuse
    with pytest.raises(EnrolmentError) as info:
        refuse_weak([good, line(), good, circle()])
    assert info.value.outliers == (1, 3)
    text = str(info.value)
    assert "#2: too short" in text and "#4: too little turning" in text
    assert "sign your full signature again" in text
