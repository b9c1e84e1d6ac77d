"""Synthetic variants of real writers: only the users asked for, labelled with them, cached for both pad kinds."""

from __future__ import annotations

import numpy as np
import pytest

from edge.preprocess import PreprocessConfig
from firmware_bridge import svc2004
from trainer import variants
from trainer.cache import Cache


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path)


@pytest.mark.slow
def test_one_fit_gives_genuine_variants_and_forgeries_of_that_writer(svc2004_root, cache, monkeypatch):
    read = []
    real_read = svc2004.read
    monkeypatch.setattr(svc2004, "read", lambda path: read.append(path) or real_read(path))
    s = variants.variants_set(cache, svc2004_root / "Task2", [3], fits=1, config=PreprocessConfig(),
                               writer_offset=1000)
    # the user's first genuine signature (S1) is the only file read
    assert [p.name for p in read] == ["U3S1.TXT"]
    assert s.writer.tolist() == [1003] * 8
    assert s.genuine.tolist() == [True] * variants.GENUINE_PER_FIT + [False] * variants.FORGERIES_PER_FIT
    assert s.x.shape == (8, *PreprocessConfig().shape) and np.isfinite(s.x).all()
    # the genuine variants differ from each other (jitter), and both pad kinds were cached in one pass
    assert not np.allclose(s.x[0], s.x[1])
    assert len(list((cache.root / "variants").glob("Task2-u3-*.npz"))) == 2
    read.clear()
    again = variants.variants_set(cache, svc2004_root / "Task2", [3], fits=1,
                                  config=PreprocessConfig(use_pressure=False))
    assert read == [] and again.x.shape[-1] == PreprocessConfig().shape[-1] - 1   # from the cache: no pressure


def test_a_recipe_with_variants_has_its_own_cache_key(tmp_path):
    import dataclasses

    from trainer.recipe import Recipe, TrainConfig, recipe_key

    base = Recipe(data=(tmp_path,), train=TrainConfig(), preprocessing=PreprocessConfig())
    assert recipe_key(dataclasses.replace(base, variants=5)) != recipe_key(base)
    assert recipe_key(dataclasses.replace(base, variants=0)) == recipe_key(base)


@pytest.mark.slow
def test_users_missing_from_the_cache_are_fitted_in_parallel_processes(svc2004_root, cache):
    s = variants.variants_set(cache, svc2004_root / "Task2", [4, 2], fits=1, config=PreprocessConfig())
    per_user = variants.GENUINE_PER_FIT + variants.FORGERIES_PER_FIT
    assert s.writer.tolist() == [2] * per_user + [4] * per_user          # in user order, whoever finished first
    assert len(list((cache.root / "variants").glob("Task2-u*.npz"))) == 4      # both users, both pad kinds
    assert not list((cache.root / "variants").glob("*.part.npz"))             # nothing half-written left
