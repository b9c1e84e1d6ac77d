import numpy as np
import pytest

from trainer.evaluation import metrics


def test_operating_points_by_hand():
    # genuine 0.9 0.8 0.4; impostor 0.5 0.1; accept when score >= t.
    t, fmr, fnmr = metrics.operating_points([0.9, 0.8, 0.4], [0.5, 0.1])
    assert list(t) == [0.1, 0.4, 0.5, 0.8, 0.9, np.inf]
    assert list(fmr) == [1.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    assert list(fnmr) == pytest.approx([0, 0, 1 / 3, 1 / 3, 2 / 3, 1])


def test_eer_interpolates_the_crossing():
    # Between t=0.5 (FMR 1/2, FNMR 1/3) and t=0.8 (FMR 0, FNMR 1/3) the curve
    # runs at FNMR = 1/3, so it meets FMR = FNMR at 1/3; w = (1/6)/(1/6+1/3) = 1/3,
    # threshold 0.5 + 0.3/3 = 0.6.
    rate, thr = metrics.eer([0.9, 0.8, 0.4], [0.5, 0.1])
    assert rate == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.6)


def test_eer_perfect_and_hopeless():
    assert metrics.eer([0.9, 0.8], [0.1, 0.2])[0] == 0.0
    assert metrics.eer([0.1, 0.2], [0.8, 0.9])[0] == 1.0


def test_eer_of_ties_is_exact():
    # All scores equal: at t=0.5 everything is accepted (FMR 1, FNMR 0), at +inf
    # nothing (FMR 0, FNMR 1): the segment crosses the diagonal at 1/2.
    assert metrics.eer([0.5, 0.5], [0.5, 0.5])[0] == pytest.approx(0.5)


def test_fnmr_at_fmr_by_hand():
    genuine = np.arange(1, 11) / 10.0              # 0.1 .. 1.0
    impostor = np.r_[np.zeros(98), 0.35, 0.55]     # two of 100 impostors score high
    # t = 0.1 .. 0.35 accept both (FMR 2 %); t = 0.4 accepts only 0.55
    # (FMR 1 %): genuine below 0.4 are 0.1, 0.2, 0.3, i.e. 3 of 10.
    assert metrics.fnmr_at_fmr(genuine, impostor, 0.01) == (pytest.approx(0.3), 0.4)
    # At 0.5 % the threshold must pass 0.55 as well: next score is 0.6,
    # genuine below it 0.1 .. 0.5, 5 of 10.
    assert metrics.fnmr_at_fmr(genuine, impostor, 0.005) == (0.5, 0.6)


def test_rates_at_threshold():
    assert metrics.rates_at([0.9, 0.8, 0.4], [0.5, 0.1], 0.45) == (0.5, pytest.approx(1 / 3))


def test_empty_scores_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        metrics.eer([], [0.1])
