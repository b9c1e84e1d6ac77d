"""Every registered score, through the edge's verifier and the trainer's scorer, by hand.

Three references on the axes of 3-d space and one test embedding:

    r0 = (1, 0, 0)   r1 = (0, 1, 0)   r2 = (0, 0, 1)   t = (0.6, 0.8, 0)

cos(t, r0) = 0.6, cos(t, r1) = 0.8, cos(t, r2) = 0 (unit vectors: dot products).
The references are orthogonal, so each one's leave-one-out mean cosine is 0:
loo_mean = 0 and loo_sd = 0. Axis vectors are exact as int8 templates
(127 * 1/127, renormalised), so the verifier's stored references are the
same vectors and both paths give the same numbers.

A score added to the registry without a value here fails
``test_every_registered_score_has_a_worked_value``: work it out too.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from edge import scores
from edge.keys import load_keys
from edge.settings import Settings
from edge.store import Store
from edge.verifier import Verifier
from firmware_bridge.signature import Signature
from trainer.evaluation.evaluate import EmbeddingScorer

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
}


def test_every_registered_score_has_a_worked_value():
    assert set(BY_HAND) == set(scores.names())


def test_through_the_trainers_scorer():
    embeddings = {k: np.array(v) for k, v in VECTORS.items()}
    for name in scores.names():
        scorer = EmbeddingScorer(embeddings, name)
        assert scorer.score(("r0", "r1", "r2"), "t") == pytest.approx(BY_HAND[name]), name


class VectorEncoder:
    """Stands in for the int8 model: each signature's embedding is the vector named by its source."""

    manifest = SimpleNamespace(sha256="0" * 64, embedding_dim=3, score=scores.DEFAULT, threshold=0.5)

    def embed(self, sig: Signature) -> np.ndarray:
        return np.array(VECTORS[sig.source])


def signature(k: int, name: str) -> Signature:
    """A usable signature (20 points over 380 ms), different for each k (no replay)."""
    i = np.arange(20.0)
    return Signature.create(t_ms=i * 20, x=i * (k + 1), y=np.sin(i + k), source=name)


@pytest.mark.parametrize("name", scores.names())
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
