"""Reasons with every scored decision: a score's explain(), the aspects that pulled it down."""

import logging

import numpy as np
import pytest

from edge import scores
from edge.decision import Decision, logfmt, reasons_of
from edge.scores import Fused, Part, Probe, References

# Two references at right angles; the probe is the first. Mean cosine (1 + 0) / 2 = 0.5;
# the centroid (0.5, 0.5) has norm 0.70711, so the centroid cosine is 0.5 / 0.70711 = 0.70711.
REFS = References(np.array([[1.0, 0.0], [0.0, 1.0]]))
PROBE = Probe(np.array([1.0, 0.0]))


class Tempo(scores.Score):
    """A stand-in part that compares timing: always 0.3."""

    name = "tempo"
    aspect = "timing"

    def __call__(self, refs, probe):
        return 0.3


def test_a_score_that_cannot_explain_says_nothing():
    assert scores.get("mean-cosine").explain(REFS, PROBE) == {}
    assert reasons_of(scores.get("mean-cosine"), REFS, PROBE) == ()


def test_fused_explains_each_aspect_as_its_standing_in_genuine_spreads():
    fused = Fused((Part(scores.get("mean-cosine"), 0.9, 0.1, 0.5),       # z = (0.5 - 0.9) / 0.1 = -4.0
                   Part(scores.get("centroid-cosine"), 0.7, 0.2, 0.5),   # z = (0.70711 - 0.7) / 0.2 = +0.03536
                   Part(Tempo(), 0.2, 0.05, 0.25)))                      # z = (0.3 - 0.2) / 0.05 = +2.0
    standing = fused.explain(REFS, PROBE)
    # both cosines compare the form: one "shape" standing, their weighted mean
    z_centroid = (0.5 / np.sqrt(0.5) - 0.7) / 0.2
    assert standing == pytest.approx({"shape": (0.5 * -4.0 + 0.5 * z_centroid) / 1.0, "timing": 2.0})
    # the score is the weighted sum: 0.5 (-4) + 0.5 z_centroid + 0.25 (2)
    assert fused(REFS, PROBE) == pytest.approx(-2.0 + 0.5 * z_centroid + 0.5)
    assert reasons_of(fused, REFS, PROBE) == ("shape",)                  # timing stands above typical


def test_a_part_weighed_0_describes_without_deciding():
    tempo = Part(Tempo(), 0.5, 0.1, 0.0)                                  # z = (0.3 - 0.5) / 0.1 = -2.0
    fused = Fused((Part(scores.get("mean-cosine"), 0.5, 0.1, 1.0), tempo))   # z = (0.5 - 0.5) / 0.1 = 0
    assert fused(REFS, PROBE) == 0.0                                      # the timing does not count ...
    assert fused.explain(REFS, PROBE) == pytest.approx({"shape": 0.0, "timing": -2.0})
    assert reasons_of(fused, REFS, PROBE) == ("timing",)                  # ... but it is said


def test_reasons_are_the_aspects_a_spread_below_typical_lowest_first_and_only_known_ones():
    class Told(scores.Score):
        name = "told"

        def explain(self, refs, probe):
            return {"size": -1.2, "shape": 0.4, "timing": -1.5, "pressure": -0.99, "mood": -9.0}
    assert reasons_of(Told(), REFS, PROBE) == ("timing", "size")       # pressure: within a spread


def test_an_explanation_that_fails_gives_no_reasons_and_is_logged(caplog):
    class Broken(scores.Score):
        name = "broken"

        def explain(self, refs, probe):
            raise ValueError("no sequences")
    with caplog.at_level(logging.WARNING, logger="sigpad"):
        assert reasons_of(Broken(), REFS, PROBE) == ()
    assert "could not explain" in caplog.text and "no sequences" in caplog.text


def test_a_decision_carries_its_reasons_in_its_dict_log_and_repr():
    d = Decision("alice", False, -2.5, -1.2, "no-match", 0.42, "score -2.500 below threshold -1.200",
                 "fused", reasons=("shape", "timing"))
    assert repr(d) == ("<Decision alice REJECT no-match score=-2.500 vs -1.200 0.42ms "
                       "score -2.500 below threshold -1.200 (down: shape, timing)>")
    assert d.to_dict()["reasons"] == ("shape", "timing")
    fields = d.log_fields("sigpad:/dev/ttyUSB0")
    assert fields["reasons"] == ["shape", "timing"]
    assert "reasons=shape,timing" in logfmt(fields)
    plain = Decision("bob", False, None, -1.2, "unknown-user", 0.1, "'bob' is not enrolled")
    assert "reasons" not in plain.log_fields() and plain.to_dict()["reasons"] == ()
    assert "down" not in repr(plain)
