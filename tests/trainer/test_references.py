"""The decision read at another number of references: threshold and levels move, weights stay."""

import numpy as np
import pytest

from trainer import fusion, references


def part(genuine, skilled, random, user):
    return {"genuine": {user: np.array(genuine, float)}, "skilled": {user: np.array(skilled, float)},
            "random": {user: np.array(random, float)}}


PARAMS = {"parts": [{"score": "a", "mean": 1.0, "sd": 2.0, "weight": 1.0},
                    {"score": "b", "mean": 0.0, "sd": 1.0, "weight": 0.0}]}   # b only describes


def calibrated():
    return fusion.Fusion(PARAMS, threshold=0.25, report={"references": 5, "kept": True}, scores={"fused": "as chosen"},
                         fold_params=[PARAMS] * 5, levels={}, seen=(-9.0, 9.0))


def test_the_threshold_levels_and_range_are_read_off_the_new_trials_with_the_same_weights():
    # part a, per fold: genuine 3 and 5, skilled -1, random -3; fused = (a - 1) / 2: genuine 1 and 2,
    # skilled -1, random -2. Every genuine score above every forgery: the EER is 0, and its threshold
    # lies between the forgeries' highest (-1) and the genuine's lowest (1).
    a = [part([3.0, 5.0], [-1.0], [-3.0], u) for u in range(5)]
    b = [part([100.0, -100.0], [50.0], [7.0], u) for u in range(5)]   # weighed 0: never counts
    read = references.at_references(calibrated(), [a, b], refs=6)
    assert -1.0 < read.threshold <= 1.0
    assert read.levels["balanced"]["threshold"] == read.threshold
    assert read.levels["balanced"]["frr"] == 0 and read.levels["balanced"]["far_skilled"] == 0
    assert read.seen == (-2.0, 2.0)
    assert read.params is PARAMS and read.fold_params == [PARAMS] * 5 and read.scores == {"fused": "as chosen"}
    assert read.report["references"] == 6 and read.report["kept"] is True
    assert read.report["pooled_at_references"]["eer_skilled"] == 0.0
    assert set(read.report["nested_levels"]) == {"convenience", "balanced", "secure"}


def test_moved_scores_move_the_threshold_by_as_much():
    a = [part([3.0, 5.0, 0.0], [-1.0, 0.5], [-3.0], u) for u in range(5)]
    b = [part([0.0, 0.0, 0.0], [0.0, 0.0], [0.0], u) for u in range(5)]
    shifted = [part([v + 2 for v in (3.0, 5.0, 0.0)], [v + 2 for v in (-1.0, 0.5)], [-1.0], u) for u in range(5)]
    before = references.at_references(calibrated(), [a, b], 6).threshold
    after = references.at_references(calibrated(), [shifted, b], 6).threshold
    assert after == pytest.approx(before + 1.0)   # a moves by 2, its standardised part by 2 / sd = 1


def test_the_nested_figures_use_each_folds_own_weights():
    # Fold 4's own weights invert part a (weight -1): under them its genuine scores fall below its
    # forgeries, so the nested EER is above 0 while the shipped weights still separate every fold.
    a = [part([3.0, 5.0], [-1.0], [-3.0], u) for u in range(5)]
    b = [part([0.0, 0.0], [0.0], [0.0], u) for u in range(5)]
    inverted = {"parts": [{**PARAMS["parts"][0], "weight": -1.0}, PARAMS["parts"][1]]}
    fused = fusion.Fusion(PARAMS, 0.25, {}, {}, [PARAMS] * 4 + [inverted], {}, (-9.0, 9.0))
    read = references.at_references(fused, [a, b], refs=6)
    assert read.levels["balanced"]["frr"] == 0                       # the shipped weights: no error
    assert read.report["pooled_at_references"]["eer_skilled"] > 0    # fold 4's own: its genuine below
    fold4 = references.nested_at(fused, [a, b])[4]
    assert fold4["genuine"][4].tolist() == [-1.0, -2.0] and fold4["skilled"][4].tolist() == [1.0]
