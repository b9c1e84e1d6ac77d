"""The sigma-lognormal model: closed forms checked by hand, and fit recovery."""

import numpy as np
import pytest

from firmware_bridge.errors import SynthesisError
from firmware_bridge.signature import Signature
from firmware_bridge.synthetic.sigmalognormal import SigmaLognormal, extract, pen_down_times, trajectory, velocity


def one_stroke(**kw):
    base = dict(t0=[0.0], mu=[-1.5], sigma=[0.3], D=[1000.0], theta_s=[0.0], theta_e=[0.0])
    base.update(kw)
    return SigmaLognormal.create(**base)


def test_straight_stroke_is_halfway_at_its_log_median():
    p = one_stroke()
    x, y = trajectory(p, np.array([np.exp(-1.5), 50.0]))  # t0 + exp(mu): CDF = 0.5; later: done
    # The numpy normal CDF is good to 1.2e-7 (relative): 1000 units x 1.2e-7.
    assert x == pytest.approx([500.0, 1000.0], abs=1.2e-4)
    assert y == pytest.approx([0.0, 0.0], abs=1e-9)


def test_quarter_turn_ends_on_the_arc_chord():
    # Turning 0 -> pi/2 along an arc of length D ends at D/(pi/2) * (1, 1) = (636.62, 636.62).
    x, y = trajectory(one_stroke(theta_e=[np.pi / 2]), np.array([50.0]))
    assert x[0] == pytest.approx(636.62, abs=0.01)
    assert y[0] == pytest.approx(636.62, abs=0.01)


def test_speed_peaks_at_the_lognormal_mode():
    # mode t0 + exp(mu - s^2); peak D / (s sqrt(2 pi)) * exp(-mu + s^2 / 2)
    mode = np.exp(-1.5 - 0.09)
    vx, _vy = velocity(one_stroke(), np.array([mode - 0.005, mode, mode + 0.005]))
    assert vx[1] == pytest.approx(1000 / (0.3 * np.sqrt(2 * np.pi)) * np.exp(1.5 + 0.045), rel=1e-9)
    assert vx[1] > vx[0] and vx[1] > vx[2]


def test_air_stroke_leaves_a_gap_in_time_and_samples_are_regular():
    p = SigmaLognormal.create(t0=[0.0, 0.25, 0.45], mu=[-1.5, -2.5, -1.5], sigma=[0.3, 0.25, 0.3],
                              D=[1000.0, 500.0, 800.0], theta_s=[0.0, 3.0, 1.0], theta_e=[1.0, 3.0, 2.0],
                              air=[False, True, False])
    t = pen_down_times(p, 100.0)
    lift, land = p.pen_up_intervals()[0]
    assert not np.any((t > lift) & (t < land))
    steps = np.round(np.diff(t) * 1000, 6)
    assert set(steps[steps < 11]) == {10.0}
    assert steps.max() >= (land - lift) * 1000 - 10


@pytest.mark.parametrize("change, message", [
    (dict(sigma=[0.0]), "sigma"), (dict(sigma=[-0.2]), "sigma"), (dict(D=[-5.0]), "D"),
    (dict(mu=[np.nan]), "non-finite"), (dict(mu=[-1.0, -1.0]), "shape"), (dict(mu=[9.0]), "mu"),
])
def test_bad_parameters_are_named(change, message):
    with pytest.raises(SynthesisError, match=message):
        one_stroke(**change)


def test_all_air_and_bad_rate_are_refused():
    with pytest.raises(SynthesisError, match="pen-down"):
        one_stroke(air=[True])
    with pytest.raises(SynthesisError, match="rate"):
        pen_down_times(one_stroke(), 0.0)
    with pytest.raises(ValueError):  # SynthesisError is a ValueError too
        pen_down_times(one_stroke(), float("nan"))


TRUE = np.array([  # t0, mu, sigma, D, theta_s, theta_e: three strokes, neighbours overlapping
    [0.00, -1.60, 0.30, 1500.0, 0.5, 1.5],
    [0.15, -1.70, 0.25, 2000.0, 2.5, 1.5],
    [0.32, -1.50, 0.35, 1200.0, -1.0, -0.2],
])


def test_extraction_recovers_clean_parameters():
    p = SigmaLognormal.create(*TRUE.T, x0=1000.0, y0=2000.0)
    t = pen_down_times(p, 200.0)
    x, y = trajectory(p, t)
    fit, snr = extract(Signature.create(t * 1000.0, x, y), smooth_samples=0.0)
    assert snr > 30.0
    got = np.column_stack([fit.t0 + t[0], fit.mu, fit.sigma, fit.D, fit.theta_s, fit.theta_e])
    got = got[np.argsort(got[:, 0])]
    assert len(got) == 3
    # t0 and mu trade off (an earlier start with a longer log-time draws almost the
    # same curve), so they get loose tolerances and the well-determined peak time
    # t0 + exp(mu - sigma^2) a tight one.
    def peak(rows):
        return rows[:, 0] + np.exp(rows[:, 1] - rows[:, 2] ** 2)

    assert np.abs(peak(got) - peak(TRUE)).max() < 0.003      # 3 ms
    assert np.abs(got[:, 0] - TRUE[:, 0]).max() < 0.02       # 20 ms
    assert np.abs(got[:, 1] - TRUE[:, 1]).max() < 0.1
    assert np.abs(got[:, 2] - TRUE[:, 2]).max() < 0.03
    assert np.abs(got[:, 3] / TRUE[:, 3] - 1).max() < 0.02   # 2 % of D
    assert np.abs(got[:, 4:] - TRUE[:, 4:]).max() < 0.03     # radians


def test_numpy_normal_cdf_matches_its_bound():
    from firmware_bridge.synthetic.sigmalognormal import ndtr
    # Phi(0) = 1/2, Phi(1.959964) = 0.975, Phi(-1) = 0.158655254 (tables).
    assert ndtr(np.array([0.0, 1.959964, -1.0])) == pytest.approx([0.5, 0.975, 0.158655254], rel=1.2e-7)
    z = np.linspace(-8, 8, 1601)
    assert np.all(np.diff(ndtr(z)) >= 0)  # monotone, so the arcs never run backwards
