"""Every registered score, through the edge's verifier and the trainer's scorer, by hand.

Three references on the axes of 3-d space and one test embedding:

    r0 = (1, 0, 0)   r1 = (0, 1, 0)   r2 = (0, 0, 1)   t = (0.6, 0.8, 0)

cos(t, r0) = 0.6, cos(t, r1) = 0.8, cos(t, r2) = 0 (unit vectors: dot products).
The references are orthogonal, so each one's leave-one-out mean cosine is 0:
loo_mean = 0 and loo_sd = 0. Axis vectors are exact as int8 templates
(127 * 1/127, renormalised), so the verifier's stored references are the
same vectors and both paths give the same numbers.

The parametrised scores (``dtw``, ``fused``) also need DTW sequences. Here
they are 2 points of one feature (three zero features pad them to the
4 channels of a pressure-free DTW):

    r0 = [0, 0]   r1 = [1, 1]   r2 = [3, 3]   t = [1, 1]

Between constant sequences a and b every cell costs (a - b)^2 and the
cheapest path is the diagonal (2 cells), so d(a, b) = sqrt(2 (a-b)^2) / (2 + 2)
= |a - b| sqrt(2) / 4. Spread of the references = mean(1, 3, 2) sqrt(2)/4
= sqrt(2)/2; the probe's mean distance = mean(1, 0, 2) sqrt(2)/4 = sqrt(2)/4.

The deviation scores need global features (``edge.global_features``, the
7 of a pad without pressure). Only the first, ``log_pen_down_s``, differs:

    r0 = 0.0   r1 = 0.3   r2 = 0.6   t = 0.8

mean 0.3, variance (0.09 + 0 + 0.09) / 3 = 0.06, unit sqrt(0.06 + FLOOR^2 = 0.01)
= sqrt(0.07); the timing group has 3 features, so its deviation is
(0.5 / sqrt(0.07) + 0 + 0) / 3; the other groups' features are all equal (0),
and without pressure the pressure group has none (0).

The learned-feature DTW (``learned-dtw``) compares 2 steps of 2-d unit vectors,
constant along each sequence (exact as int8 at 1/127):

    r0 = (1, 0)   r1 = (0, 1)   r2 = (-1, 0)   t = (0, 1)

d(a, b) = |a - b| sqrt(2) / 4 as above: |r0 - r1| = |r1 - r2| = sqrt(2),
|r0 - r2| = 2, so the spread is (2 sqrt(2) + 2) / 3 * sqrt(2) / 4 = (2 + sqrt(2)) / 6;
t is r1: distances 1/2, 0, 1/2, mean 1/3; the score -(1/3) / ((2 + sqrt(2)) / 6).

The writer-normalised statistics (``edge.normalised_scores``) read the same
distances. Cosine distances 1 - cos: t to r0, r1, r2 = 0.4, 0.2, 1.0, in the unit
1 - loo_mean = 1; the references' cosines to each other are all 0, so every row
sums alike and the medoid is the first, r0. DTW (in sqrt(2)/4): 1, 0, 2, in the
unit sqrt(2)/2; the references' pairs r0-r1 1, r0-r2 3, r1-r2 2 sum by reference
to 4, 3, 5, so the medoid is r1. Learned: 1/2, 0, 1/2 in the unit (2 + sqrt(2)) / 6;
the pairs r0-r1 1/2, r0-r2 sqrt(2)/2, r1-r2 1/2 sum to 1/2 + sqrt(2)/2, 1,
1/2 + sqrt(2)/2, so the medoid is r1.

A score added to the registry without a value here fails
``test_every_registered_score_has_a_worked_value``: work it out too.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from edge import scores
from edge.dtw import DtwConfig
from edge.errors import ConfigError
from edge.global_features import GlobalConfig
from edge.keys import load_keys
from edge.model import Encoding
from edge.settings import Settings
from edge.store import Store
from edge.verifier import Verifier
from firmware_bridge.signature import Signature
from trainer.evaluation.evaluate import EmbeddingScorer, globals_of, sequences_of

VECTORS = {"r0": (1.0, 0.0, 0.0), "r1": (0.0, 1.0, 0.0), "r2": (0.0, 0.0, 1.0), "t": (0.6, 0.8, 0.0)}

BY_HAND = {
    # (0.6 + 0.8 + 0) / 3
    "mean-cosine": 1.4 / 3,                                     # 0.4667
    # centroid (1, 1, 1)/3 of norm sqrt(3)/3; t . centroid = 1.4/3 -> (1.4/3) / (sqrt(3)/3)
    "centroid-cosine": 1.4 / math.sqrt(3),                      # 0.8083
    # the mean of the centroid cosine and the largest cosine (0.8, to r1)
    "centroid-max-cosine": 0.5 * (1.4 / math.sqrt(3) + 0.8),    # 0.8041
    # (mean cosine - loo_mean) / max(loo_sd, SD_FLOOR = 0.02) = (1.4/3 - 0) / 0.02
    "znorm-mean-cosine": (1.4 / 3) / 0.02,                      # 23.33
    # -(1 - mean cosine) / max(1 - loo_mean, DIST_FLOOR = 0.01) = -(1 - 1.4/3) / 1
    "refnorm-distance": -(1 - 1.4 / 3),                         # -0.5333
    # -(sqrt(2)/4) / (sqrt(2)/2)
    "dtw": -0.5,
    "learned-dtw": -2 / (2 + math.sqrt(2)),                      # -0.5858
    # 0.5 (1.4/3 - 0.4) / 0.2 + 0.5 (-0.5 - (-1)) / 0.25 = 0.5 (1/3) + 0.5 (2) = 7/6
    "fused": 7 / 6,
    "timing-deviation": -0.5 / math.sqrt(0.07) / 3,               # -0.6299
    "size-deviation": 0.0,
    "stroke-deviation": 0.0,
    "pressure-deviation": 0.0,
    # -least, -greatest, -to the medoid, over the unit (above)
    "cosine-least": -0.2,
    "cosine-greatest": -1.0,
    "cosine-typical": -0.4,                                      # r0, the first of equals
    "dtw-least": 0.0,
    "dtw-greatest": -(2 * math.sqrt(2) / 4) / (math.sqrt(2) / 2),   # -1
    "dtw-typical": 0.0,                                           # r1 is the medoid and t's copy
    "learned-dtw-least": 0.0,
    "learned-dtw-greatest": -0.5 / ((2 + math.sqrt(2)) / 6),      # -0.8787
    "learned-dtw-typical": 0.0,
}

DTW = {"points": 2, "band": 0, "step": 1 / 32, "pressure": False, "version": 1}
NO_PRESSURE = {"pressure": False, "version": 1}
DEVIATIONS = ("timing-deviation", "size-deviation", "stroke-deviation", "pressure-deviation")
LEARNED_CFG = {"steps": 2, "channels": 2, "band": 0, "version": 1}
PARAMS = {
    "dtw": {"dtw": DTW},
    "learned-dtw": {"learned": LEARNED_CFG},
    **{f"dtw-{s}": {"dtw": DTW} for s in ("least", "greatest", "typical")},
    **{f"learned-dtw-{s}": {"learned": LEARNED_CFG} for s in ("least", "greatest", "typical")},
    **{name: {"globals": NO_PRESSURE} for name in DEVIATIONS},
    "fused": {"dtw": DTW, "parts": [{"score": "mean-cosine", "mean": 0.4, "sd": 0.2, "weight": 0.5},
                                    {"score": "dtw", "mean": -1.0, "sd": 0.25, "weight": 0.5}]},
}
SEQUENCES = {k: np.array([[v, 0, 0, 0]] * 2, dtype=float)
             for k, v in {"r0": 0.0, "r1": 1.0, "r2": 3.0, "t": 1.0}.items()}
LEARNED = {k: np.array([v, v], dtype=float)
           for k, v in {"r0": (1.0, 0.0), "r1": (0.0, 1.0), "r2": (-1.0, 0.0), "t": (0.0, 1.0)}.items()}
GLOBALS = {k: np.array([v, 0, 0, 0, 0, 0, 0]) for k, v in {"r0": 0.0, "r1": 0.3, "r2": 0.6, "t": 0.8}.items()}


def test_every_registered_score_has_a_worked_value():
    assert set(BY_HAND) == set(scores.names())


def test_through_the_trainers_scorer():
    embeddings = {k: np.array(v) for k, v in VECTORS.items()}
    for name in scores.names():
        deviation = name in DEVIATIONS
        scorer = EmbeddingScorer(embeddings, name, SEQUENCES if name in PARAMS and not deviation else None,
                                 PARAMS.get(name), GLOBALS if deviation else None, LEARNED)
        assert scorer.score(("r0", "r1", "r2"), "t") == pytest.approx(BY_HAND[name]), name


def test_parametrised_scores_refuse_to_run_without_their_parameters():
    for name in PARAMS:
        with pytest.raises(ConfigError, match=name):
            scores.get(name).configured(None)
        with pytest.raises(ConfigError, match=name):
            scores.get(name).configured({"dtw": {**DTW, "version": 9}})
    with pytest.raises(ConfigError, match="sd > 0"):
        scores.get("fused").configured({**PARAMS["fused"], "parts": [{"score": "dtw", "mean": 0, "sd": 0,
                                                                      "weight": 1}]})
    with pytest.raises(ConfigError, match="takes no parameters"):
        scores.get("mean-cosine").configured({"dtw": DTW})


class VectorEncoder:
    """Stands in for the int8 model: each signature's embedding is the vector named by its source."""

    def __init__(self, score=scores.DEFAULT, params=None):
        self.learned = bool(params and "learned" in params)
        self.manifest = SimpleNamespace(sha256="0" * 64, embedding_dim=3, score=score, threshold=0.5,
                                        score_params=params or {},
                                        decision_score=lambda: scores.get(score).configured(params))

    def encode(self, sig: Signature) -> Encoding:
        return Encoding(np.array(VECTORS[sig.source]), LEARNED[sig.source] if self.learned else None)


def signature(k: int, name: str) -> Signature:
    """A usable signature (20 points over 380 ms), different for each k (no replay), in
    three strokes: enrolment refuses one stroke this short as too simple (edge.complexity)."""
    i = np.arange(20.0)
    return Signature.create(t_ms=i * 20, x=i * (k + 1), y=np.sin(i + k), pen_down=i % 7 != 6, source=name)


@pytest.mark.parametrize("name", [n for n in scores.names() if n not in PARAMS])
def test_through_the_verifier(tmp_path, name):
    threshold = BY_HAND[name] - 0.01
    # Orthogonal references are unlike each other: the consistency bar is
    # lowered (threshold - 1) so that the enrolment is not refused.
    settings = Settings(score=name, threshold=threshold, enrol_count=3, consistency_margin=1.0,
                        lockout_after=0)
    with Verifier(VectorEncoder(), Store(tmp_path / "t.db", load_keys(tmp_path / "k")), settings) as v:
        v.enrol("writer", [signature(k, f"r{k}") for k in range(3)])
        d = v.verify("writer", signature(3, "t"))
    assert (d.accepted, d.reason, d.score_name) == (True, "match", name)
    assert d.score == pytest.approx(BY_HAND[name])


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parametrised_scores_through_the_verifier_equal_the_trainers(tmp_path, name):
    """The verifier computes each signature's DTW sequence itself (edge.dtw, 64
    points here); the trainer's scorer, given the same sequences, must agree."""
    dtw_cfg = {**DTW, "points": 8}
    params = {**PARAMS[name], "dtw": dtw_cfg} if "dtw" in PARAMS[name] else PARAMS[name]
    sigs = {f"r{k}": signature(k, f"r{k}") for k in range(3)} | {"t": signature(3, "t")}
    settings = Settings(enrol_count=3, consistency_margin=100.0, lockout_after=0, threshold=-100.0)
    encoder = VectorEncoder(name, params)
    with Verifier(encoder, Store(tmp_path / "t.db", load_keys(tmp_path / "k")), settings) as v:
        v.enrol("writer", [sigs[f"r{k}"] for k in range(3)])
        d = v.verify("writer", sigs["t"])
    trainer = EmbeddingScorer({k: np.array(v) for k, v in VECTORS.items()}, name,
                              sequences_of(sigs, DtwConfig.from_dict(dtw_cfg)), params,
                              globals_of(sigs, GlobalConfig.from_dict(NO_PRESSURE)), LEARNED)
    assert d.score_name == name and d.reason == "match"
    assert d.score == pytest.approx(trainer.score(("r0", "r1", "r2"), "t"), rel=1e-12)


LEARNED_FUSED = {"dtw": DTW, "learned": LEARNED_CFG,
                 "parts": [{"score": "mean-cosine", "mean": 0.4, "sd": 0.2, "weight": 0.5},
                           {"score": "learned-dtw", "mean": -1.0, "sd": 0.25, "weight": 0.5}]}


def test_a_learned_decision_stores_its_features_whatever_score_is_asked(tmp_path):
    """Enrolled while another score decides (a setting), the references still hold what
    the manifest's decision compares: that decision then judges them, not a re-enrolment."""
    sigs = [signature(k, f"r{k}") for k in range(3)]
    store = tmp_path / "t.db"
    override = Settings(score="mean-cosine", threshold=0.1, enrol_count=3, consistency_margin=1.0, lockout_after=0)
    with Verifier(VectorEncoder("fused", LEARNED_FUSED), Store(store, load_keys(tmp_path / "k")), override) as v:
        v.enrol("writer", sigs)
    own = Settings(enrol_count=3, lockout_after=0, threshold=-100.0)
    with Verifier(VectorEncoder("fused", LEARNED_FUSED), Store(store, load_keys(tmp_path / "k")), own) as v:
        d = v.verify("writer", signature(3, "t"))
    # 0.5 (1.4/3 - 0.4) / 0.2 + 0.5 (-0.5858 - (-1)) / 0.25: the cosine and learned-dtw values above
    assert (d.reason, d.score_name) == ("match", "fused")
    assert d.score == pytest.approx(0.5 * (1.4 / 3 - 0.4) / 0.2 + 0.5 * (BY_HAND["learned-dtw"] + 1) / 0.25)
