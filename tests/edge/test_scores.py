"""Scores worked out by hand."""

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.scores import DIST_FLOOR, SD_FLOOR, score, user_stats

REFS = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
TEST = np.array([0.6, 0.8])


def test_mean_cosine_by_hand():
    # cosines: 0.6, 0.8, 1.0 -> mean 0.8
    assert score("mean-cosine", REFS, TEST, {}) == pytest.approx(0.8)


def test_centroid_cosine_by_hand():
    # centroid (1.6/3, 1.8/3), norm sqrt(1.6^2 + 1.8^2)/3 = sqrt(5.8)/3;
    # dot with (0.6, 0.8): (0.96 + 1.44)/3 = 0.8 -> cosine 0.8 * 3 / sqrt(5.8) = 2.4 / sqrt(5.8)
    assert score("centroid-cosine", REFS, TEST, {}) == pytest.approx(2.4 / np.sqrt(5.8))
    # references that cancel out leave no direction: a score of 0, not a division by zero
    assert score("centroid-cosine", np.array([[1.0, 0.0], [-1.0, 0.0]]), TEST, {}) == 0.0


def test_centroid_max_cosine_by_hand():
    # centroid cosine 2.4 / sqrt(5.8) (above); the nearest reference is TEST itself: max cosine 1
    assert score("centroid-max-cosine", REFS, TEST, {}) == pytest.approx(0.5 * (2.4 / np.sqrt(5.8) + 1.0))
    # (0.8, 0.6): cosines 0.8, 0.6, 0.96 -> max 0.96; centroid (1.6, 1.8)/3: (1.28 + 1.08) / sqrt(5.8)
    other = np.array([0.8, 0.6])
    assert score("centroid-max-cosine", REFS, other, {}) == pytest.approx(0.5 * (2.36 / np.sqrt(5.8) + 0.96))


def test_user_stats_by_hand():
    st = user_stats(REFS)
    # leave-one-out means: r0: (0 + 0.6)/2 = 0.3; r1: (0 + 0.8)/2 = 0.4; r2: (0.6 + 0.8)/2 = 0.7
    assert st["loo"] == pytest.approx([0.3, 0.4, 0.7])
    assert st["loo_mean"] == pytest.approx(1.4 / 3)
    assert st["loo_sd"] == pytest.approx(np.std([0.3, 0.4, 0.7]))


def test_znorm_by_hand():
    st = {"loo_mean": 0.7, "loo_sd": 0.05}
    assert score("znorm-mean-cosine", REFS, TEST, st) == pytest.approx((0.8 - 0.7) / 0.05)
    # a tiny spread is floored so one consistent writer is not given an absurd bar
    st = {"loo_mean": 0.7, "loo_sd": 0.0}
    assert score("znorm-mean-cosine", REFS, TEST, st) == pytest.approx(0.1 / SD_FLOOR)
    with pytest.raises(ConfigError):
        score("max-cosine", REFS, TEST, st)


def test_refnorm_distance_by_hand():
    # test: mean cosine 0.8, distance 0.2; references among themselves: mean
    # cosine 1.4/3 (above), distance 1 - 1.4/3 = 1.6/3 -> score -0.2 / (1.6/3) = -0.375
    assert score("refnorm-distance", REFS, TEST, user_stats(REFS)) == pytest.approx(-0.375)
    # references that are copies of each other: the spread is floored
    assert score("refnorm-distance", REFS, TEST, {"loo_mean": 1.0}) == pytest.approx(-0.2 / DIST_FLOOR)
