"""The device's DTW: worked by hand on tiny sequences, and against dtaidistance."""

import numpy as np
import pytest

from edge import dtw
from firmware_bridge.signature import Signature


def col(*v):
    return np.array(v, dtype=float)[:, None]


def test_distance_by_hand():
    # probe 0,1,2 against ref 0,2, squared costs c[i][j]:
    #   i=0: 0 4 | i=1: 1 1 | i=2: 4 0
    # D: row0 0 4; row1 1, 1+min(0,4,1)=1; row2 5, 0+min(1,1,5)=1
    # distance = sqrt(1) / (3 + 2)
    assert dtw.distances(col(0, 1, 2), col(0, 2)[None])[0] == pytest.approx(0.2)


def test_local_costs_are_the_squared_distances_and_never_negative():
    # by hand: probe points (0, 0) and (1, 2); one reference of points (1, 0), (1, 2), (3, 4)
    probe = np.array([[0.0, 0.0], [1.0, 2.0]])
    ref = np.array([[[1.0, 0.0], [1.0, 2.0], [3.0, 4.0]]])
    assert dtw._local_costs(probe, ref).tolist() == [[[1.0, 5.0, 25.0], [4.0, 0.0, 8.0]]]
    rng = np.random.default_rng(3)   # the product form agrees with the difference form
    p, r = rng.normal(size=(64, 5)) * 3, rng.normal(size=(4, 64, 5)) * 3
    direct = ((p[None, :, None, :] - r[:, None, :, :]) ** 2).sum(axis=-1)
    assert np.allclose(dtw._local_costs(p, r), direct, rtol=0, atol=1e-12)
    assert (dtw._local_costs(r[0], r[:1]) >= 0).all() and dtw.distances(r[0], r[:1]).tolist() == [0.0]


def test_band_forbids_the_warp_that_needs_it():
    # probe 0,2,2 vs ref 0,0,2. Free warp: D[1][2] = 0 via D[0][1], D[2][2] = 0.
    # Band 0 (the diagonal only): costs 0, 4, 0 -> sqrt(4) / 6.
    probe, ref = col(0, 2, 2), col(0, 0, 2)[None]
    assert dtw.distances(probe, ref, band=0)[0] == pytest.approx(0.0)  # band 0 means no band
    assert dtw.distances(probe, ref, band=1)[0] == pytest.approx(0.0)
    # A band narrower than one step is the diagonal: use a 3x3 with band 0.5.
    assert dtw.distances(probe, ref, band=0.5)[0] == pytest.approx(2 / 6)


def brute_force(a, b, band=0):
    n, m = len(a), len(b)
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band and abs((i - 1) * (m - 1) / max(n - 1, 1) - (j - 1)) > band:
                continue
            c = float(((a[i - 1] - b[j - 1]) ** 2).sum())
            D[i, j] = c + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return np.sqrt(D[n, m]) / (n + m)


def test_batch_equals_textbook_dtw_per_reference():
    rng = np.random.default_rng(0)
    probe = rng.normal(size=(17, 3))
    refs = rng.normal(size=(4, 12, 3))
    for band in (0, 3):
        got = dtw.distances(probe, refs, band)
        want = [brute_force(probe, r, band) for r in refs]
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_equals_dtaidistance_without_band():
    dtw_ndim = pytest.importorskip("dtaidistance.dtw_ndim")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 5)), rng.normal(size=(31, 5))
    assert dtw.distances(a, b[None])[0] == pytest.approx(dtw_ndim.distance(a, b) / 71, rel=1e-9)


def test_spread_and_score_by_hand():
    # Three 1-sample "sequences" 0, 1, 3: pairwise distances sqrt(c)/2 = 0.5, 1.5, 1.0
    refs = np.array([[[0.0]], [[1.0]], [[3.0]]])
    assert dtw.spread(refs) == pytest.approx(1.0)
    # probe 1: distances 0.5, 0, 1.0 -> mean 0.5 -> score -0.5 / 1.0
    assert dtw.dtw_score(np.array([[1.0]]), refs, 1.0) == pytest.approx(-0.5)


def line_signature(n=50, pressure=True):
    t = np.arange(n) * 10.0
    x, y = np.linspace(0, 100, n), np.sin(np.linspace(0, 3, n)) * 20
    return Signature.create(t, x, y, pressure=np.linspace(0.2, 0.8, n) if pressure else None)


def test_sequence_is_int8_of_the_configured_shape_and_round_trips():
    cfg = dtw.DtwConfig(points=16, band=4)
    seq = dtw.sequence(line_signature(), cfg)
    assert len(seq) == 16 * 5 == cfg.sequence_bytes
    f = dtw.unpack(seq, cfg)
    want = dtw.resample(dtw.features(line_signature()), 16)
    assert np.abs(f - np.clip(want, -127 / 32, 127 / 32)).max() <= cfg.step / 2 + 1e-12
    with pytest.raises(ValueError, match="stores 80"):
        dtw.unpack(seq[:-1], cfg)


def test_pressure_free_config_needs_no_pressure_and_a_pressure_config_refuses_none():
    sig = line_signature(pressure=False)
    assert len(dtw.sequence(sig, dtw.DtwConfig(points=8, pressure=False))) == 8 * 4
    with pytest.raises(ValueError, match="pressure"):
        dtw.sequence(sig, dtw.DtwConfig(points=8))


def test_config_round_trip_and_refusals():
    cfg = dtw.DtwConfig(points=32, band=8, pressure=False)
    assert dtw.DtwConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="version"):
        dtw.DtwConfig.from_dict({**cfg.to_dict(), "version": 99})
    with pytest.raises(ValueError, match="implausible"):
        dtw.DtwConfig.from_dict({**cfg.to_dict(), "points": 1})


def test_velocity_is_per_sample_within_strokes():
    # Three strokes. x: 0, 1, 3 (t 0, 10, 20); after a 200 ms lift 10, 10, 10, 10
    # (t 220-250); then a reported pen-up sample and 5, 6, 9 (t 270-290).
    t = [0, 10, 20, 220, 230, 240, 250, 260, 270, 280, 290]
    x = [0, 1, 3, 10, 10, 10, 10, 99, 5, 6, 9]
    down = [True] * 7 + [False] + [True] * 3
    sig = Signature.create(t, x, [0] * 11, pen_down=down)
    assert [(p.start, p.stop) for p in dtw.strokes(sig)] == [(0, 3), (3, 7), (7, 10)]
    f = dtw.features(sig, pressure=False)
    # per-sample gradient per stroke: (1, 1.5, 2), (0, 0, 0, 0), (1, 2, 3); then z-normalised
    vx = np.array([1, 1.5, 2, 0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_allclose(f[:, 2], (vx - vx.mean()) / vx.std())


def test_host_timestamps_that_bunch_up_do_not_change_the_sequence():
    # A pad without a clock is stamped on arrival: four samples may share one time.
    sig = line_signature(48)
    bunched = Signature.create(np.floor(sig.t_ms / 40) * 40, sig.x, sig.y, pressure=sig.pressure)
    cfg = dtw.DtwConfig(points=16)
    assert dtw.sequence(bunched, cfg) == dtw.sequence(sig, cfg)


def test_spread_and_medoid_by_hand():
    # one-point references 0, 1, 3 (d(a, b) = sqrt((a - b)^2) / 2 = |a - b| / 2):
    # pairs 1/2, 3/2, 1 -> spread mean 1; sums by reference 2, 3/2, 5/2 -> the medoid is 1
    refs = np.array([[[0.0]], [[1.0]], [[3.0]]])
    assert dtw.spread_and_medoid(refs) == (pytest.approx(1.0), 1)
    assert dtw.spread(refs) == pytest.approx(1.0)
    assert dtw.spread_and_medoid(refs[:1]) == (1.0, 0)   # one reference: no pairs
