"""bench_fusion's account of who makes the pooled random EER, worked out by hand."""

from __future__ import annotations

from bench.bench_fusion import random_errors


def test_random_errors_name_the_users_on_the_wrong_side_of_the_pooled_threshold():
    # Two folds, pooled: genuine 0.9, 0.8 (user 1), 0.2, 0.85 (user 2); random 0.1, 0.15 (user 1),
    # 0.5, 0.05 (user 2). With a threshold above 0.2 and at most 0.5, one random forgery
    # (0.5, against user 2) is accepted and one genuine test (0.2, user 2) rejected: 25 % each, the EER.
    fold_a = {"genuine": {1: [0.9, 0.8]}, "skilled": {1: []}, "random": {1: [0.1, 0.15]}}
    fold_b = {"genuine": {2: [0.2, 0.85]}, "skilled": {2: []}, "random": {2: [0.5, 0.05]}}
    assert random_errors([fold_a, fold_b]) == {"2": [1, 1]}
