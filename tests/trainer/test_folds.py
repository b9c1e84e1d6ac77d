"""Cross-validation: each fold trained once, its result and int8 file cached, then read back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from trainer.folds import user_folds


def test_users_fall_into_contiguous_folds():
    assert user_folds(5) == [list(range(k, k + 6)) for k in range(1, 31, 6)]
    assert user_folds(2, [4, 1, 3, 2]) == [[4, 1], [3, 2]]   # in the order given: callers sort


@pytest.mark.slow
@pytest.mark.data
def test_folds_are_trained_once_and_then_read_from_the_cache(svc2004_root, tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    from trainer import folds
    from trainer.cache import Cache
    from trainer.recipe import PRESSURE_TOWER, TrainConfig, on_data, recipe_key

    tiny = TrainConfig(epochs=1, pairs_per_epoch=64, batch_size=32, dim=8, width=4, verbose=0)
    recipe = on_data(dataclasses.replace(PRESSURE_TOWER, train=tiny), svc2004_root)
    cache = Cache(tmp_path)
    first = folds.cross_validate(recipe, [1, 2, 3, 4], cache, n_folds=2, log=lambda m: None)
    folder = tmp_path / "cv" / recipe_key(recipe)
    assert sorted(p.name for p in folder.iterdir()) == ["fold0-1_2.json", "fold0-1_2.tflite",
                                                       "fold1-3_4.json", "fold1-3_4.tflite"]
    assert [f["test_users"] for f in first] == [[1, 2], [3, 4]]
    scores = first[0]["data"]["Task2"]["int8_scores"]
    assert set(scores) == {"genuine", "skilled", "random"} and set(scores["genuine"]) == {"1", "2"}
    assert first[0] == json.loads((folder / "fold0-1_2.json").read_text())   # what the cache holds

    monkeypatch.setattr(folds, "run_fold", lambda *a, **k: pytest.fail("a cached fold was trained again"))
    assert folds.cross_validate(recipe, [4, 3, 2, 1], cache, n_folds=2, log=lambda m: None) == first
    model = folds.fold_model(recipe, first[1], tmp_path / "model", cache)
    assert model == tmp_path / "model"
    manifest = json.loads((model / "manifest.json").read_text())
    assert Path(model / manifest["model_file"]).read_bytes() == (folder / "fold1-3_4.tflite").read_bytes()
    assert manifest["decision"]["score"] == recipe.score
