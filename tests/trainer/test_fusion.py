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
    got = fusion.fuse([cos, dtw], ((0.8, 0.1), (-1.5, 0.5)), (0.25, 0.75))
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
    _, weights, consts = fusion.nested([cos, dtw])
    on_others = fusion.choose([cos[1:], dtw[1:]])
    on_itself = fusion.choose([cos[:1], dtw[:1]])
    assert (consts[0], weights[0]) == on_others   # chosen on folds 1-4 ...
    assert weights[0][0] >= 0.5 > on_itself[1][0]  # ... which want the cosine; fold 0 alone wants DTW


def test_params_are_what_the_edges_fused_score_reads():
    from edge.scores import get
    cfg = fusion.dtw_config(False)
    params = fusion.params_of(["mean-cosine", "dtw"], ((0.8, 0.1), (-1.5, 0.5)), (0.3, 0.7), cfg)
    score = get("fused").configured(params)
    assert [p.score.name for p in score.parts] == ["mean-cosine", "dtw"]
    assert [p.weight for p in score.parts] == pytest.approx([0.3, 0.7])
    assert score.dtw == cfg and cfg.channels == 4  # no pressure
    assert score.globals is None                   # no aspect part: nothing more stored


def test_aspect_parts_weighed_0_are_kept_to_describe_and_bring_their_features():
    from edge.scores import get
    cfg = fusion.dtw_config(True)
    names = fusion.part_names("centroid-max-cosine", True)
    assert names == ("centroid-max-cosine", "dtw", "timing-deviation", "size-deviation",
                     "stroke-deviation", "pressure-deviation")
    assert fusion.part_names("mean-cosine", False)[-1] == "stroke-deviation"  # no pressure aspect
    consts = ((0.8, 0.1), (-1.5, 0.5), (-0.5, 0.25), (-0.5, 0.25), (-0.5, 0.25), (-0.5, 0.25))
    params = fusion.params_of(names, consts, (0.3, 0.7, 0.0, 0.0, 0.0, 0.0), cfg)
    score = get("fused").configured(params)
    assert [p.weight for p in score.parts] == [0.3, 0.7, 0.0, 0.0, 0.0, 0.0]
    assert score.globals is not None and score.globals.pressure
    # the zero-weight parts do not move the range: 0.3 (1 - 0.8)/0.1 + 0.7 (0 + 1.5)/0.5 = 0.6 + 2.1
    assert score.range[1] == pytest.approx(2.7)


def test_the_grid_tries_every_aspect_weight_with_every_cosine_weight():
    grid = fusion.weight_grid(3, (0.0, 0.1))
    assert len(grid) == 2 * len(fusion.WEIGHTS)
    assert grid[0] == (0.0, 1.0, 0.0) and grid[-1] == (1.0, 0.0, 0.1)
    assert fusion.weight_grid(4) == [(w, round(1 - w, 2), 0.0, 0.0) for w in fusion.WEIGHTS]  # shipped: none


def test_an_aspect_that_separates_gets_weight_when_it_may():
    # genuine and skilled tie on cosine and DTW; the timing deviation separates them.
    cos, dtw = fold([0.8, 0.8], [0.8, 0.8], [-1.0, -1.0], [-1.0, -1.0], 1)
    timing = {"genuine": {1: np.array([-0.2, -0.3])}, "skilled": {1: np.array([-2.0, -3.0])},
              "random": {1: np.array([-5.0])}}
    _, chosen = fusion.choose([[cos], [dtw], [timing]], fusion.ALTERNATIVE_ASPECT_WEIGHTS)
    assert chosen[2] > 0
    _, shipped = fusion.choose([[cos], [dtw], [timing]])
    assert shipped[2] == 0.0


def test_levels_are_read_off_the_pooled_scores():
    # 100 genuine at 0..99, 100 skilled at -50..49 (integers): the 3 % targets by hand.
    scores = {"genuine": {1: np.arange(100.0)}, "skilled": {1: np.arange(-50.0, 50.0)},
              "random": {1: np.full(10, -100.0)}}
    lv = fusion.levels(scores, balanced=25.0)
    assert list(lv) == ["convenience", "balanced", "secure"]
    # convenience: 3 of 100 genuine may fall below: threshold 3 rejects 0, 1, 2 (3 %)
    assert lv["convenience"]["threshold"] == 3.0 and lv["convenience"]["frr"] == 0.03
    assert lv["convenience"]["far_skilled"] == 0.47          # skilled 3..49 accepted
    # secure: 3 of 100 skilled may pass: just above 46, so 47, 48 and 49 pass (3 %)
    assert lv["secure"]["far_skilled"] == 0.03 and lv["secure"]["frr"] == 0.47
    assert lv["balanced"] == {"threshold": 25.0, "frr": 0.25, "far_skilled": 0.25, "far_random": 0.0}


def test_nested_levels_read_each_folds_thresholds_off_the_other_folds():
    # Two folds, one part (weight 1, constants 0 and 1: the scores as they are). Fold 0's
    # thresholds come from fold 1 and fold 1's from fold 0; the rates are counted on the fold.
    f0 = {"genuine": {1: np.arange(100.0)}, "skilled": {1: np.arange(-50.0, 50.0)}, "random": {1: np.array([-99.0])}}
    f1 = {"genuine": {2: np.arange(100.0) + 10}, "skilled": {2: np.arange(-50.0, 50.0) + 10},
          "random": {2: np.array([-99.0])}}
    consts, weights = [((0.0, 1.0),)] * 2, [(1.0,)] * 2
    lv = fusion.nested_levels([[f0, f1]], weights, consts)
    # secure on fold 1 (for fold 0): just above 56, so on fold 0 skilled 57..49 -> none pass;
    # on fold 0 (for fold 1): just above 46, so on fold 1 skilled 47..59 pass: 13 of 100.
    assert lv["secure"]["far_skilled"] == (0 + 13) / 200
    # convenience on fold 1 (for fold 0): 13 -> fold 0 genuine 0..12 refused; from fold 0: 3 ->
    # fold 1 genuine (10..109) none refused
    assert lv["convenience"]["frr"] == (13 + 0) / 200
    assert lv["balanced"]["far_random"] == 0.0


def test_three_shape_parts_share_one_on_the_grid():
    grid = fusion.shape_weights(3)
    # (w1, w2) with w1 + w2 <= 1 on a 0.1 grid: 11 + 10 + ... + 1 = 66 pairs, the third takes the rest
    assert len(grid) == 66
    assert all(abs(sum(w) - 1) < 1e-9 for w in grid)
    assert (0.2, 0.5, 0.3) in grid and (0.0, 0.0, 1.0) in grid and (1.0, 0.0, 0.0) in grid
    assert fusion.shape_weights(2) == [(w, round(1 - w, 2)) for w in fusion.WEIGHTS]  # the shipped two


def test_a_third_shape_part_gets_weight_where_it_alone_separates():
    cos, dtw = fold([0.8, 0.8], [0.8, 0.8], [-1.0, -1.0], [-1.0, -1.0], 1)
    local = {"genuine": {1: np.array([-1.0, -1.2])}, "skilled": {1: np.array([-3.0, -4.0])},
             "random": {1: np.array([-5.0])}}
    _, chosen = fusion.choose([[cos], [dtw], [local]], shape=3)
    assert chosen == (0.0, 0.0, 1.0)  # the first weighting in grid order with 0 % EER


def test_tied_dtws_share_what_the_cosine_leaves():
    grid = fusion.weight_grid(3, shape=fusion.tied_dtw_weights())
    assert len(grid) == 11 and grid[3] == (0.3, 0.35, 0.35) and grid[-1] == (1.0, 0.0, 0.0)


def test_a_recipe_says_how_its_learned_dtw_is_weighed():
    assert fusion.learned_shapes("tied") == fusion.tied_dtw_weights()
    free = fusion.learned_shapes("free")   # 0.1 steps of three weights summing to 1: 11 + 10 + ... + 1
    assert len(free) == 66 and (0.3, 0.2, 0.5) in free and (0.3, 0.35, 0.35) not in free
    with pytest.raises(ValueError, match="no such weighting"):
        fusion.learned_shapes("even")


def test_a_part_is_scored_under_the_session_protocol_too(svc2004_root):
    from trainer.fusion import dtw_config, part_scores
    # session drift: one trial a user, references S1-S5, genuine tests S11-S20, all 20 forgeries,
    # one genuine signature of each other user (here the one other user)
    got = part_scores(svc2004_root / "Task1", [1, 2], "dtw", dtw_config(False), protocol="session")
    assert [len(got["genuine"][u]) for u in (1, 2)] == [10, 10]
    assert [len(got["skilled"][u]) for u in (1, 2)] == [20, 20]
    assert [len(got["random"][u]) for u in (1, 2)] == [1, 1]
    many = part_scores(svc2004_root / "Task1", [1, 2], "dtw", dtw_config(False))   # 10 random-refs trials
    assert len(many["genuine"][1]) == 10 * 15
