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


def test_fused_explains_each_part_as_its_weighted_standardised_term():
    fused = Fused((Part(scores.get("mean-cosine"), 0.9, 0.1, 0.5),       # 0.5 (0.5 - 0.9) / 0.1 = -2.0
                   Part(scores.get("centroid-cosine"), 0.7, 0.2, 0.5),   # 0.5 (0.70711 - 0.7) / 0.2 = +0.01768
                   Part(Tempo(), 0.2, 0.05, 0.25)))                      # 0.25 (0.3 - 0.2) / 0.05 = +0.5
    shares = fused.explain(REFS, PROBE)
    # both cosines compare the form: one "shape" share, their sum
    assert shares == pytest.approx({"shape": -2.0 + 0.5 * (0.5 / np.sqrt(0.5) - 0.7) / 0.2, "timing": 0.5})
    assert sum(shares.values()) == pytest.approx(fused(REFS, PROBE))       # the shares make the score
    assert reasons_of(fused, REFS, PROBE) == ("shape",)                  # timing pushed it up


def test_reasons_are_the_negative_aspects_most_negative_first_and_only_known_ones():
    class Told(scores.Score):
        name = "told"

        def explain(self, refs, probe):
            return {"size": -0.2, "shape": 0.4, "timing": -1.5, "pressure": -0.0, "mood": -9.0}
    assert reasons_of(Told(), REFS, PROBE) == ("timing", "size")


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
