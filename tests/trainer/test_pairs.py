"""Pair sampling: the documented ratio, the right labels, a seeded pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data import SigSet
from trainer.losses import GENUINE, RANDOM, SKILLED
from trainer.pairs import PAIR_RATIO, sample_pairs


def toy_set(writers=5, gen=6, forg=3, length=16, channels=8, seed=0) -> SigSet:
    rng = np.random.default_rng(seed)
    n = writers * (gen + forg)
    return SigSet(rng.normal(size=(n, length, channels)).astype(np.float32),
                  np.repeat(np.arange(writers), gen + forg),
                  np.tile([True] * gen + [False] * forg, writers))


def test_pairs_have_the_ratio_and_the_right_members():
    data = toy_set()
    a, b, kind = sample_pairs(data, 4000, np.random.default_rng(1))
    shares = np.bincount(kind, minlength=3) / len(kind)
    for k, share in PAIR_RATIO.items():
        assert shares[k] == pytest.approx(share, abs=0.03)
    assert data.genuine[a].all()
    same = data.writer[a] == data.writer[b]
    assert same[kind == GENUINE].all() and data.genuine[b[kind == GENUINE]].all()
    assert (a != b)[kind == GENUINE].all()
    assert same[kind == SKILLED].all() and not data.genuine[b[kind == SKILLED]].any()
    assert not same[kind == RANDOM].any() and data.genuine[b[kind == RANDOM]].all()


def test_without_forgeries_skilled_pairs_become_random():
    data = toy_set(forg=0)
    _, _, kind = sample_pairs(data, 500, np.random.default_rng(0))
    assert SKILLED not in set(kind.tolist())


def test_dataset_is_seeded_and_shaped():
    pytest.importorskip("tensorflow")
    from trainer.pairs import pair_dataset
    data = toy_set()
    batches = [list(pair_dataset(data, 64, 16, seed=7, epochs=2)) for _ in range(2)]
    assert len(batches[0]) == 8
    (x, kind), (x2, _) = batches[0][3], batches[1][3]
    assert x["a"].shape == (16, 16, 8) and kind.shape == (16,)
    np.testing.assert_array_equal(x["b"].numpy(), x2["b"].numpy())
