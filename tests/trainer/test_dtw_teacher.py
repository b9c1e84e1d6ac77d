"""The DTW teacher: groups, pair scores, cosine units and the mixed targets, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.dtw_teacher import (
    NO_GROUP,
    cosine_units,
    dtw_targets,
    genuine_pair_mask,
    pair_scores,
    teacher_genuine_stats,
    writer_groups,
)


def test_writer_groups_number_writers_and_their_signatures():
    group, pos = writer_groups(np.array([7, 3, 7, 7, 3]))
    assert group.tolist() == [1, 0, 1, 1, 0]    # writers in sorted order: 3 -> 0, 7 -> 1
    assert pos.tolist() == [0, 0, 1, 2, 1]      # each one's rank among its writer's signatures


def test_pair_scores_are_distances_over_the_writers_genuine_spread():
    # one channel, two points: every cell between constant sequences a and b costs
    # (a - b)^2; the cheapest path is the diagonal's two cells, so the distance is
    # sqrt(2 (a - b)^2) / (2 + 2) = sqrt(2) |a - b| / 4
    from edge.dtw import distances
    seqs = np.array([[[0.0], [0.0]], [[1.0], [1.0]], [[3.0], [3.0]]])
    d01 = float(distances(seqs[0], seqs[1:2])[0])
    d02 = float(distances(seqs[0], seqs[2:3])[0])
    d12 = float(distances(seqs[1], seqs[2:3])[0])
    assert d01 == pytest.approx(np.sqrt(2) / 4) and d02 == pytest.approx(3 * np.sqrt(2) / 4)
    group, genuine = np.zeros(3, np.int64), np.array([True, True, False])  # the third: a forgery
    s = pair_scores(seqs, group, genuine, band=0)[0]
    # the writer's genuine spread is d01 alone: every score is -d / d01
    assert d12 == pytest.approx(2 * np.sqrt(2) / 4)
    assert s[0, 1] == pytest.approx(-1.0) and s[0, 2] == pytest.approx(-3.0) and s[1, 2] == pytest.approx(-2.0)
    assert s[0, 0] == 0.0 and np.allclose(s, s.T)


def test_a_smaller_writer_leaves_nan_past_its_signatures():
    seqs = np.arange(10, dtype=float).reshape(5, 2, 1)
    s = pair_scores(seqs, np.array([0, 0, 0, 1, 1]), np.ones(5, bool), band=0)
    assert s.shape == (2, 3, 3) and np.isnan(s[1, 2]).all() and not np.isnan(s[1, :2, :2]).any()


def test_cosine_units_put_genuine_pairs_at_the_teachers_mean_and_spread():
    scores = np.array([[[0.0, -1.0, -3.0], [-1.0, 0.0, -2.0], [-3.0, -2.0, 0.0]]])
    mask = genuine_pair_mask(np.zeros(3, np.int64), np.arange(3), np.array([True, True, False]), scores.shape)
    assert mask[0].tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    # make (0, 2) a genuine pair too, so the genuine values spread
    scores[0, 0, 2] = scores[0, 2, 0] = -3.0
    mask[0, 0, 2] = mask[0, 2, 0] = True       # now the genuine values are -1, -1, -3, -3: mean -2, sd 1
    out = cosine_units(scores, mask, teacher_mean=0.7, teacher_sd=0.1)
    assert out[0, 0, 1] == pytest.approx(0.7 + 0.1 * 1.0)    # z = (-1 + 2) / 1
    assert out[0, 1, 2] == pytest.approx(0.7 + 0.1 * 0.0)    # z = (-2 + 2) / 1
    assert out[0, 0, 0] == pytest.approx(0.9)                # z = 2
    assert cosine_units(scores, mask, 0.7, 0.5)[0, 0, 0] == 1.0   # 0.7 + 0.5 * 2, clipped to a cosine


def test_teacher_genuine_stats_by_hand():
    emb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0], [1.0, 0.0]])   # rows normalised inside
    group, genuine = np.array([0, 0, 0, 1]), np.array([True, True, True, True])
    # writer 0's genuine pairs: cos 0.6, 0.0, 0.8 -> mean 0.4666.., sd of the six ordered pairs the same
    mean, sd = teacher_genuine_stats(emb, group, genuine)
    assert mean == pytest.approx(1.4 / 3) and sd == pytest.approx(np.std([0.6, 0.0, 0.8]))


def test_dtw_targets_have_one_table_row_per_signature():
    rng = np.random.default_rng(0)
    seqs = rng.normal(size=(6, 8, 2))
    writer, genuine = np.array([1, 1, 1, 2, 2, 2]), np.array([True, True, False, True, True, False])
    group, pos, table = dtw_targets(seqs, writer, genuine, rng.normal(size=(6, 4)), band=2)
    assert table.shape == (2, 3, 3) and table.dtype == np.float32 and np.all(np.abs(table) <= 1)
    assert group.tolist() == [0, 0, 0, 1, 1, 1] and pos.tolist() == [0, 1, 2, 0, 1, 2]


def test_mixed_targets_move_only_same_writer_pairs():
    pytest.importorskip("tensorflow")
    from trainer.dtw_teacher import mixed_targets

    teacher = np.full((3, 3), 0.5, np.float32)
    # not symmetric, so a transposed lookup would show: [g, p, q] is row p, column q
    table = np.array([[[1.0, 0.1, 0.3], [0.1, 1.0, -0.5], [0.7, -0.5, 1.0]]], np.float32)
    # rows 0 and 1: writer 0 at positions 2 and 0; row 2: a synthetic writer (no DTW)
    group, pos = np.array([0, 0, NO_GROUP], np.int32), np.array([2, 0, 0], np.int32)
    out = np.asarray(mixed_targets(teacher, group, pos, table, 0.25))
    # the pair (0, 1) is table[0, 2, 0] = 0.7: 0.75 * 0.5 + 0.25 * 0.7 = 0.55
    assert out[0, 1] == pytest.approx(0.55)
    # the pair (1, 0) is table[0, 0, 2] = 0.3: 0.75 * 0.5 + 0.25 * 0.3 = 0.45
    assert out[1, 0] == pytest.approx(0.45)
    # the diagonal and the synthetic row keep the teacher's cosine
    assert out[0, 0] == out[2, 2] == out[0, 2] == out[2, 1] == 0.5
