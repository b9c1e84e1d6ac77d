"""A fold's learned-feature branch is trained once and kept: the pressure model's
pressure-blind branch IS the pressure-free recipe's file, scored on the pressure folder."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from trainer import local_features
from trainer.cache import Cache
from trainer.recipe import SHIPPED_NO_PRESSURE, SHIPPED_PRESSURE, on_data

pytestmark = [pytest.mark.slow, pytest.mark.data]
TINY = dict(epochs=1, pairs_per_epoch=64, batch_size=32)


def test_the_blind_branch_is_trained_once_and_scored_on_the_pressure_folder(svc2004_root, tmp_path, monkeypatch):
    from trainer.fusion import dtw_config, part_scores

    free = on_data(SHIPPED_NO_PRESSURE, svc2004_root)
    free = dataclasses.replace(free, local=dataclasses.replace(free.local, **TINY))
    blind = on_data(SHIPPED_PRESSURE, svc2004_root)
    blind = dataclasses.replace(blind, local=dataclasses.replace(blind.local, **TINY))
    cfg_free, cfg_blind = local_features.local_config(free), local_features.local_config(blind)
    cache, test, users = Cache(tmp_path), [1, 2], [1, 2, 3, 4]

    model = local_features.fold_branch(free, cfg_free, test, cache, users)
    (losses,) = (tmp_path / "local").glob("*.losses.json")
    assert len(json.loads(losses.read_text())) == 1          # trained now, one epoch, its loss kept

    def trained_again(*args, **kwargs):
        raise AssertionError("trained again")
    monkeypatch.setattr(local_features, "fit_local", trained_again)
    assert local_features.fold_branch(blind, cfg_blind, test, cache, users) == model   # the same file
    assert len(list((tmp_path / "local").glob("*.tflite"))) == 1

    got = local_features.fold_scores(blind, cfg_blind, test, svc2004_root / "Task2", cache, users)
    want = part_scores(svc2004_root / "Task2", test, "dtw", dtw_config(True))   # the same trials
    for kind in ("genuine", "skilled", "random"):
        assert {u: len(v) for u, v in got[kind].items()} == {u: len(v) for u, v in want[kind].items()}
        assert all(np.all(np.isfinite(v)) for v in got[kind].values())

    def no_branch(*args, **kwargs):
        raise AssertionError("scores on Task2 are cached: no branch needed")
    monkeypatch.setattr(local_features, "fold_branch", no_branch)
    cached = local_features.fold_scores(blind, cfg_blind, test, svc2004_root / "Task2", cache, users)
    assert all(np.array_equal(cached["skilled"][u], got["skilled"][u]) for u in test)
    with pytest.raises(AssertionError, match="no branch needed"):   # Task1's scores are another entry
        local_features.fold_scores(free, cfg_free, test, svc2004_root / "Task1", cache, users)
