"""Cross-validation over user folds, scored by the evaluation harness.

Users 1-30 split into five folds of six; each fold's model is trained on the
other 24 users and scored on its six, float (Keras embeddings) and int8 (the
exported file through the edge's interpreter, via trainer.evaluation), with the
same trials as the DTW reference (trainer.evaluation.trials). The held-out scores of
all folds give the shipped model's decision threshold: the shipped model sees
all 30 users, so no held-out user is left to choose it on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edge import scores as edge_scores
from firmware_bridge import svc2004

from .evaluation import metrics
from .evaluation.evaluate import EmbeddingScorer, evaluate, load_signatures, score_trials, summarise
from .evaluation.trials import make_trials

USERS = tuple(range(1, 31))


def user_folds(n_folds: int = 5, users=USERS) -> list[list[int]]:
    """Contiguous folds: users 1-6, 7-12, ... (the order SVC2004 lists them)."""
    return [[int(u) for u in f] for f in np.array_split(np.array(users), n_folds)]


def users_spec(users) -> str:
    return ",".join(str(u) for u in sorted(users))


def evaluate_float(encoder, data: Path, users, config, trials: int = 10, seed: int = 0,
                   score: str = edge_scores.DEFAULT):
    """(summary, scores) of the Keras encoder under the harness protocol."""
    from edge.preprocess import preprocess_many

    from .training_loop import embed

    index = {u: f for u, f in svc2004.scan(data).items() if u in set(users)}
    sigs, _ = load_signatures(index)
    keys = list(sigs)
    emb = embed(encoder, preprocess_many([sigs[k] for k in keys], config))
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    scores = score_trials(make_trials(index, trials=trials, seed=seed), EmbeddingScorer(dict(zip(keys, emb)), score))
    return summarise(scores), scores


def evaluate_int8(model_bytes: bytes, manifest_writer, data: Path, users, trials: int = 10,
                  seed: int = 0):
    """(summary, scores) of an int8 model run through the edge's Encoder."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest_writer(Path(tmp), model_bytes)
        return evaluate(data, "model", Path(tmp), users=users_spec(users), trials=trials, seed=seed)


def pooled_threshold(fold_scores: list[dict], kind: str = "skilled") -> float:
    """EER threshold of the held-out scores of all folds pooled."""
    gen = np.concatenate([np.concatenate(list(s["genuine"].values())) for s in fold_scores])
    imp = np.concatenate([np.concatenate(list(s[kind].values())) for s in fold_scores])
    return metrics.eer(gen, imp)[1]
