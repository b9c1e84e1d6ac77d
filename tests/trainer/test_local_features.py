"""Local features trained through the DTW: the path, the aligned cosine and its gradient, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edge import dtw
from trainer.local_features import LocalConfig, accumulated_costs, path_mask


def test_the_path_follows_the_cheap_cells_by_hand():
    # D row 0: 0 0 9; row 1: D[1,0] = 9, D[1,1] = min(0, 0, 9) + 9 = 9, D[1,2] = min(0, 9, 9) + 0 = 0.
    # Back from (1,2): diagonal (0,1) = 0 beats up (0,2) = 9 and left (1,1) = 9; then left to (0,0).
    cost = np.array([[[0.0, 0.0, 9.0], [9.0, 9.0, 0.0]]])
    assert accumulated_costs(cost, 0)[0].tolist() == [[0, 0, 9], [9, 9, 0]]
    assert path_mask(cost, 0)[0].tolist() == [[1, 1, 0], [0, 0, 1]]


def test_a_tie_goes_to_the_diagonal():
    cost = np.array([[[2.0, 0.0], [0.0, 2.0]]])  # D = [[2, 2], [2, 4]]: all three ways into (1,1) cost 2
    assert path_mask(cost, 0)[0].tolist() == [[1, 0], [0, 1]]


def test_the_path_costs_what_the_devices_dtw_measures():
    rng = np.random.default_rng(3)
    for n, m, band in ((12, 12, 3), (9, 14, 0), (20, 20, 5)):
        probe, refs = rng.normal(size=(n, 4)), rng.normal(size=(3, m, 4))
        cost = ((probe[None, :, None] - refs[:, None]) ** 2).sum(-1)
        on_path = (path_mask(cost, band) * cost).sum(axis=(1, 2))
        assert np.sqrt(on_path) / (n + m) == pytest.approx(dtw.distances(probe, refs, band))


def test_the_band_keeps_the_path_near_the_diagonal():
    cost = np.ones((1, 8, 8))
    cost[0, 0, 1:] = cost[0, 1:, 7] = 0.0   # cheap along the top row and the right edge: off the band
    mask = path_mask(cost, 2)[0]
    rows, cols = np.nonzero(mask)
    assert np.all(np.abs(rows - cols) <= 2)
    assert (mask * cost[0]).sum() > 1
    free = path_mask(cost, 0)[0]  # without a band: along the free top row and right edge, paying only (0,0)
    assert (free * cost[0]).sum() == 1.0 and free[0, :7].sum() == 7


tf = pytest.importorskip("tensorflow")


def test_the_aligned_cosine_and_its_gradient_by_hand():
    from trainer.local_features import aligned_cosine
    a = tf.Variable([[[1.0, 0.0], [0.0, 1.0]]])
    b = tf.constant([[[0.6, 0.8], [0.0, 1.0]]])
    # costs 2 - 2 cos: [[0.8, 2], [0.4, 0]]; D = [[0.8, 2.8], [1.2, 0.8]]: the diagonal path.
    # Mean cosine along it: (0.6 + 1) / 2 = 0.8; d/da_i = b_i / 2 on the path.
    with tf.GradientTape() as tape:
        cos = aligned_cosine(a, b, band=0)
    assert float(cos[0]) == pytest.approx(0.8)
    assert tape.gradient(cos, a).numpy()[0] == pytest.approx(np.array([[0.3, 0.4], [0.0, 0.5]]))


def test_the_branch_gives_unit_vectors_at_its_steps():
    from trainer.local_features import build_local_branch
    cfg = LocalConfig(steps=32, channels=8)
    out = build_local_branch((256, 7), cfg)(np.random.default_rng(0).normal(size=(2, 256, 7)).astype("float32"))
    assert out.shape == (2, 32, 8)
    assert np.linalg.norm(out.numpy(), axis=-1) == pytest.approx(np.ones((2, 32)), abs=1e-5)
    with pytest.raises(ValueError, match="steps"):
        build_local_branch((256, 7), LocalConfig(steps=48))
