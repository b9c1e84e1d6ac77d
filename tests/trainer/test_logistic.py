"""The calibrated combiner: a logistic regression worked by hand, fitted on the other folds only."""

import math

import numpy as np
import pytest

from edge import scores
from trainer import logistic
from trainer.evaluation.evaluate import EmbeddingScorer


def test_the_fit_by_hand_one_weight_and_no_intercept():
    # x = -1 (a forgery) and +1 (genuine), weighed equally: by symmetry the intercept is 0,
    # and the weight b solves the loss's gradient, -sigma(-b) + penalty * b = 0.
    # b = ln 3: sigma(-ln 3) = 1 / (1 + 3) = 1/4, so penalty = 1 / (4 ln 3).
    intercept, weights = logistic.fit(np.array([[-1.0], [1.0]]), np.array([0.0, 1.0]), np.array([1.0, 1.0]),
                                      penalty=1 / (4 * math.log(3)))
    assert intercept == pytest.approx(0.0, abs=1e-9)
    assert weights == pytest.approx([math.log(3)])


def test_the_intercept_alone_is_the_weighted_log_odds():
    # Nothing to tell the rows apart (x = 0): the intercept is the log-odds of the
    # weighted share of genuine rows, 1 of weight 1 against 3 of weight 1: ln(1/3).
    # Weighing the genuine row 3 makes them even: 0.
    x, y = np.zeros((4, 1)), np.array([1.0, 0.0, 0.0, 0.0])
    assert logistic.fit(x, y, np.ones(4), 0.1)[0] == pytest.approx(-math.log(3))
    assert logistic.fit(x, y, np.array([3.0, 1, 1, 1]), 0.1)[0] == pytest.approx(0.0, abs=1e-9)


def fold(user, genuine, skilled, rand):
    return {"genuine": {user: np.array(genuine, float)}, "skilled": {user: np.array(skilled, float)},
            "random": {user: np.array(rand, float)}}


def test_the_design_standardises_by_genuine_and_weighs_each_kind_by_its_share():
    # one part, two folds: genuine 1 and 3 (mean 2, sd 1), skilled 0 and 0, random -2
    part = [fold(1, [1.0], [0.0], [-2.0]), fold(2, [3.0], [0.0], [])]
    assert logistic.standardisers([part]) == ((2.0, 1.0),)
    x, y, w = logistic.design([part], ((2.0, 1.0),))
    assert x[:, 0].tolist() == [-1.0, 1.0, -2.0, -2.0, -4.0]     # (v - 2) / 1, by kind in order
    assert y.tolist() == [1, 1, 0, 0, 0]
    # genuine 1/2 over 2 rows, skilled 1/4 over 2, random 1/4 over 1
    assert w.tolist() == [0.25, 0.25, 0.125, 0.125, 0.25]


def test_each_folds_regression_comes_from_the_other_folds():
    # Folds 1-4: a high part means genuine. Fold 0 says the opposite; nested must not see it.
    folds = [fold(0, [0.1, 0.2], [0.9, 0.8], [0.95])]
    folds += [fold(u, [0.9, 0.8, 0.85], [0.1, 0.2, 0.15], [0.05]) for u in (1, 2, 3, 4)]
    scored, chosen = logistic.nested([folds])
    on_others = logistic.choose([folds[1:]])
    assert chosen[0]["penalty"] == on_others["penalty"]
    assert chosen[0]["weights"] == pytest.approx(on_others["weights"])
    assert chosen[0]["weights"][0] > 0   # so fold 0's genuine signatures score below its forgeries
    assert scored[0]["genuine"][0].max() < scored[0]["skilled"][0].min()


def test_params_run_on_the_edge_as_the_trainer_scores():
    # Two parts (mean cosine, its least distance) of the worked example of test_score_registry:
    # mean cosine 1.4/3, cosine-least -0.2. Standardised by (0.4, 0.2) and (-0.5, 0.25), weights 2 and -1,
    # intercept 0.5: 0.5 + 2 (1.4/3 - 0.4) / 0.2 - (-0.2 + 0.5) / 0.25 = 0.5 + 2/3 - 1.2
    chosen = {"consts": ((0.4, 0.2), (-0.5, 0.25)), "weights": np.array([2.0, -1.0]), "intercept": 0.5}
    params = logistic.params(("mean-cosine", "cosine-least"), chosen, _dtw())
    assert params["intercept"] == 0.5
    vectors = {"r0": (1.0, 0, 0), "r1": (0, 1.0, 0), "r2": (0, 0, 1.0), "t": (0.6, 0.8, 0)}
    sequences = {k: np.zeros((2, 4)) for k in vectors}   # the fused score carries DTW settings; no part reads them
    scorer = EmbeddingScorer({k: np.array(v) for k, v in vectors.items()}, "fused", sequences, params)
    assert scorer.score(("r0", "r1", "r2"), "t") == pytest.approx(0.5 + 2 / 3 - 1.2)
    parts = [fold(1, [1.4 / 3], [], []), fold(1, [-0.2], [], [])]
    as_trained = logistic.logits(parts, chosen["consts"], 0.5, chosen["weights"])["genuine"][1]
    assert as_trained == pytest.approx([0.5 + 2 / 3 - 1.2])   # the trainer's arithmetic is the edge's


def test_a_nonfinite_intercept_is_refused():
    params = logistic.params(("mean-cosine",), {"consts": ((0.4, 0.2),), "weights": [1.0], "intercept": 0.0},
                             _dtw())
    with pytest.raises(scores.ConfigError, match="intercept"):
        scores.get("fused").configured({**params, "intercept": float("inf")})


def test_part_names_by_hand():
    assert logistic.part_names("mean-cosine", use_pressure=False, learned=False) == (
        "mean-cosine", "refnorm-distance", "cosine-least", "cosine-greatest", "cosine-typical",
        "dtw", "dtw-least", "dtw-greatest", "dtw-typical", "timing-deviation", "size-deviation", "stroke-deviation")
    assert len(logistic.part_names("mean-cosine", use_pressure=True, learned=True)) == 17


def test_rows_of_part_scores_become_each_parts_scores():
    rows = {"genuine": {3: [np.array([1.0, 2.0]), np.array([3.0, 4.0])]}, "skilled": {3: [np.array([5.0, 6.0])]},
            "random": {3: []}}
    first, second = logistic.by_part(rows)
    assert first["genuine"][3].tolist() == [1.0, 3.0] and second["skilled"][3].tolist() == [6.0]
    assert first["random"][3].tolist() == []


def _dtw():
    from edge.dtw import DtwConfig
    return DtwConfig(points=2, band=0, pressure=False)
