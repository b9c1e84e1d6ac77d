"""Cross-validation over user folds, scored by the evaluation harness.

Users 1-30 split into five folds of six; each fold's model is trained on the
other 24 users (``trainer.towers``, the steps the shipped model takes) and
scored on its six, float (Keras embeddings) and int8 (the exported file
through the edge's interpreter, via trainer.evaluation), with the same trials
as the DTW reference (trainer.evaluation.trials). The held-out scores of all
folds give the shipped model's decision threshold and its fused decision
(``trainer.pipeline``): the shipped model sees all 30 users, so no held-out
user is left to choose them on.

Each fold's result and int8 file are cached in the cache's ``cv/`` under the
recipe's key (``trainer.cache``), so ``make model`` and the benchmark share
the folds they have in common.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from edge import scores as edge_scores
from edge.preprocess import PreprocessConfig
from firmware_bridge import svc2004

from .cache import Cache
from .evaluation.evaluate import EmbeddingScorer, evaluate, load_signatures, score_trials, summarise
from .evaluation.trials import make_trials
from .progress import Progress
from .recipe import Recipe, recipe_key

USERS = tuple(range(1, 31))


def user_folds(n_folds: int = 5, users: Iterable[int] = USERS) -> list[list[int]]:
    """Contiguous folds: users 1-6, 7-12, ... (the order SVC2004 lists them)."""
    return [[int(u) for u in f] for f in np.array_split(np.array(users), n_folds)]


def users_spec(users: Iterable[int]) -> str:
    return ",".join(str(u) for u in sorted(users))


def cross_validate(recipe: Recipe, users: Iterable[int], cache: Cache, n_folds: int = 5,
                   log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """One result per fold (see ``run_fold``), cached in cv/<recipe key>/ of the cache,
    each with its int8 file beside it (``fold_model``; folds cached before files were
    kept have none)."""
    users = sorted(int(u) for u in users)
    folder = cache.folds(recipe_key(recipe))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    with Progress(n_folds, "cross-validation folds") as bar:
        for k, test in enumerate(user_folds(n_folds, users)):
            path = folder / f"fold{k}-{'_'.join(map(str, test))}.json"
            if path.exists():
                results.append(json.loads(path.read_text()))
                bar.advance(cached=True)
                continue
            res = run_fold(recipe, [u for u in users if u not in test], test, cache, path.with_suffix(".tflite"))
            res["model_file"] = path.with_suffix(".tflite").name
            path.write_text(json.dumps(res, default=int))
            log(f"fold {k} done: {json.dumps({n: d['int8'] for n, d in res['data'].items()})}")
            results.append(json.loads(path.read_text()))  # a fold is what its cache says, fresh or not
            bar.advance()
    return results


def run_fold(recipe: Recipe, train_users: list[int], test_users: list[int], cache: Cache,
             model_path: Path | None = None) -> dict[str, Any]:
    """Train on train_users; float and int8 summaries and scores on test_users, per data folder.
    The fold's int8 file is kept at ``model_path`` (other protocols, fused decisions)."""
    from .export import MODEL_FILE, write_int8_model
    from .towers import train_encoder

    encoder, data, history = train_encoder(recipe, train_users, cache)
    out: dict[str, Any] = {"test_users": list(test_users), "final_loss": float(history["loss"][-1]), "data": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp)   # the fold's int8 file with a manifest of the recipe's score
        write_int8_model(model_dir, encoder, data.x, recipe.preprocessing, 0.0, {}, recipe.score)
        if model_path is not None:
            shutil.copyfile(model_dir / MODEL_FILE, model_path)
        for folder in recipe.data:
            fs, _ = evaluate_float(encoder, folder, test_users, recipe.preprocessing, score=recipe.score)
            qs, q_scores = evaluate(folder, "model", model_dir, users=users_spec(test_users))
            out["data"][Path(folder).name] = {"float": fs, "int8": _strip(qs), "int8_scores": q_scores}
    return out


def evaluate_float(encoder: Any, data: Path, users: Iterable[int], config: PreprocessConfig, trials: int = 10,
                   seed: int = 0, score: str = edge_scores.DEFAULT) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, scores) of the Keras encoder under the harness protocol."""
    from edge.preprocess import preprocess_many

    chosen = set(users)
    index = {u: f for u, f in svc2004.scan(data).items() if u in chosen}
    sigs, _ = load_signatures(index)
    keys = list(sigs)
    emb = encoder.predict(preprocess_many([sigs[k] for k in keys], config), batch_size=256, verbose=0)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    scores = score_trials(make_trials(index, trials=trials, seed=seed), EmbeddingScorer(dict(zip(keys, emb)), score))
    return summarise(scores), scores


def _strip(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("data", "model")}


def fold_model(recipe: Recipe, fold: dict[str, Any], out: Path, cache: Cache) -> Path | None:
    """A model directory (int8 file + manifest with the recipe's score) of one
    cached fold in ``out``; None when the fold was cached without its file."""
    from .export import write_model_dir

    src = cache.folds(recipe_key(recipe)) / fold.get("model_file", "")
    if not fold.get("model_file") or not src.is_file():
        return None
    write_model_dir(out, src.read_bytes(), recipe.preprocessing, 0.0, {}, recipe.score)
    return out


def summarise_folds(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max over folds of every metric, per data folder and precision."""
    out = {}
    for name in folds[0]["data"]:
        for prec in ("float", "int8"):
            keys = [k for k in folds[0]["data"][name][prec] if k.startswith("eer_")]
            out[f"{name}/{prec}"] = {k: {"mean": round(float(np.mean(v)), 3), "min": min(v), "max": max(v)}
                                     for k in keys
                                     for v in [[f["data"][name][prec][k] for f in folds]]}
    return out
