"""The fusion's choices: made on the other folds, never on the fold reported."""

import numpy as np
import pytest

from trainer import fusion


def fold(cos_gen, cos_skilled, dtw_gen, dtw_skilled, user):
    return ({"genuine": {user: np.array(cos_gen)}, "skilled": {user: np.array(cos_skilled)},
             "random": {user: np.array([-5.0])}},
            {"genuine": {user: np.array(dtw_gen)}, "skilled": {user: np.array(dtw_skilled)},
             "random": {user: np.array([-5.0])}})


def test_fuse_is_the_edges_arithmetic_by_hand():
    cos, dtw = fold([0.9], [0.5], [-1.0], [-2.0], 1)
    # consts: cosine mean 0.8 sd 0.1, DTW mean -1.5 sd 0.5; w = 0.25
    got = fusion.fuse(cos, dtw, ((0.8, 0.1), (-1.5, 0.5)), 0.25)
    # genuine: 0.25 (0.9 - 0.8)/0.1 + 0.75 (-1 + 1.5)/0.5 = 0.25 + 0.75 = 1.0
    assert got["genuine"][1] == pytest.approx([1.0])
    # skilled: 0.25 (0.5 - 0.8)/0.1 + 0.75 (-2 + 1.5)/0.5 = -0.75 - 0.75 = -1.5
    assert got["skilled"][1] == pytest.approx([-1.5])


def test_each_folds_weight_comes_from_the_other_folds():
    # Folds 1-4: the cosine separates (genuine 0.9 > skilled 0.1), DTW says the
    # opposite: only the cosine (w = 1) gives 0 % EER there. Fold 0 is the
    # reverse: on it alone, w = 0 would be best - nested must not see that.
    folds = [fold([0.1, 0.2], [0.9, 0.8], [-1.0, -1.1], [-3.0, -3.1], 0)]
    folds += [fold([0.9, 0.8], [0.1, 0.2], [-3.0, -3.1], [-1.0, -1.1], u) for u in (1, 2, 3, 4)]
    cos, dtw = [c for c, _ in folds], [d for _, d in folds]
    _, weights, consts = fusion.nested(cos, dtw)
    on_others = fusion.choose(cos[1:], dtw[1:])
    on_itself = fusion.choose(cos[:1], dtw[:1])
    assert (consts[0], weights[0]) == on_others   # chosen on folds 1-4 ...
    assert weights[0] >= 0.5 > on_itself[1]        # ... which want the cosine; fold 0 alone wants DTW


def test_params_are_what_the_edges_fused_score_reads():
    from edge.scores import get
    cfg = fusion.dtw_config(False)
    params = fusion.params_of("mean-cosine", ((0.8, 0.1), (-1.5, 0.5)), 0.3, cfg)
    score = get("fused").configured(params)
    assert [p.score.name for p in score.parts] == ["mean-cosine", "dtw"]
    assert [p.weight for p in score.parts] == pytest.approx([0.3, 0.7])
    assert score.dtw == cfg and cfg.channels == 4  # no pressure
