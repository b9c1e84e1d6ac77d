"""Each score's range, and thresholds refused where they would accept (or reject) everything.

``--threshold -3`` with a cosine score used to accept every signature: no
cosine is below -1. The bounds are worked out by hand and reached here.
"""

import math

import numpy as np
import pytest

from edge import scores
from edge.errors import ConfigError
from edge.scores import DIST_FLOOR, SD_FLOOR, check_threshold, score
from edge.settings import Settings

REFS = np.array([[1.0, 0.0], [1.0, 0.0]])
OPPOSITE = np.array([-1.0, 0.0])


def test_the_bounds_are_reached():
    # every reference points away from the test: each cosine is -1
    for name in ("mean-cosine", "centroid-cosine", "centroid-max-cosine"):
        assert scores.get(name).range == (-1.0, 1.0)
        assert score(name, REFS, OPPOSITE, {}) == pytest.approx(-1.0)
    # znorm: (-1 - 1) / the floored spread = -2 / SD_FLOOR = -100
    assert score("znorm-mean-cosine", REFS, OPPOSITE, {"loo_mean": 1.0, "loo_sd": 0.0}) == \
        pytest.approx(-2 / SD_FLOOR) == scores.get("znorm-mean-cosine").range[0]
    # refnorm: -(1 - (-1)) / the floored distance = -2 / DIST_FLOOR = -200; at best 0
    assert score("refnorm-distance", REFS, OPPOSITE, {"loo_mean": 1.0}) == \
        pytest.approx(-2 / DIST_FLOOR) == scores.get("refnorm-distance").range[0]
    assert scores.get("refnorm-distance").range[1] == 0.0


@pytest.mark.parametrize("name", scores.names())
def test_every_registered_score_has_a_range(name):
    lo, hi = scores.get(name).range
    assert lo < hi


@pytest.mark.parametrize("value, message", [
    (-3.0, "would accept every signature"), (-1.0, "would accept every signature"),
    (1.01, "would reject every signature"), (math.nan, "not a finite number")])
def test_cosine_thresholds_out_of_range(value, message):
    with pytest.raises(ConfigError, match=message):
        check_threshold("centroid-max-cosine", value)


def test_thresholds_in_range():
    assert check_threshold("mean-cosine", -0.99) == -0.99
    assert check_threshold("mean-cosine", 1.0) == 1.0       # only a perfect score passes
    assert check_threshold("znorm-mean-cosine", -1.5) == -1.5
    with pytest.raises(ConfigError, match="refnorm-distance"):
        check_threshold("refnorm-distance", 0.5)


def test_settings_check_a_threshold_given_with_its_score():
    with pytest.raises(ConfigError, match="accept every signature"):
        Settings(score="mean-cosine", threshold=-2.0)
    assert Settings(threshold=-2.0).threshold == -2.0  # the manifest's score: checked by the verifier
