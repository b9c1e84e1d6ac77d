"""The fused decision: the learned cosine and the device's DTW, learnt on training folds.

The fused score (``edge.scores.Fused``) is ``w (c - mc) / sc + (1 - w) (d - md) / sd``:
the model's cosine score c and the DTW score d (``edge.dtw``), each
standardised by the mean and spread of genuine scores, weighted by w.

Nothing here looks at the users a figure is reported for:

* **Reported figures (nested).** For user fold k, the constants and w are
  chosen on the held-out scores of the *other* four folds, whose users are
  exactly fold k's training users; fold k's scores are then fused with them.
  w is the weight of ``WEIGHTS`` with the lowest skilled EER of those four
  folds pooled (one threshold for all their users, what a device does).
* **Shipped parameters.** The same choice on all five folds pooled, and the
  threshold at the EER point of the pooled fused scores, as the cosine
  model's threshold always was (the shipped model sees all 30 users, so no
  held-out user is left).

The cosine scores are the folds' own (each fold's int8 model on its held-out
users, cached by ``folds.cross_validate``); the DTW scores need no model and
are computed here with the edge's DTW, over the same trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dtw import DtwConfig
from edge.scores import Dtw
from firmware_bridge import svc2004

from .evaluation import metrics
from .evaluation.evaluate import EmbeddingScorer, load_signatures, score_trials, sequences_of, summarise
from .evaluation.trials import make_trials

WEIGHTS = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
"""The cosine's weights tried (the DTW's is 1 - w): fixed before any run."""

KINDS = ("genuine", "skilled", "random")


@dataclass(frozen=True)
class Fusion:
    params: dict          # the manifest's decision.params for ``fused``
    threshold: float
    report: dict          # nested per-fold figures and what was chosen (for the manifest)
    scores: dict          # per fold, by decision: the raw held-out scores (for benchmarks)
    fold_params: list     # fold k's decision.params, chosen on the other folds (for benchmarks)


def dtw_config(use_pressure: bool) -> DtwConfig:
    """The DTW the device runs: 64 points (the most the 2 ms latency budget
    allows with the model, docs/training.md), a band of a quarter of them."""
    return DtwConfig(points=64, band=16, pressure=use_pressure)


def dtw_scores(folder: Path, users, cfg: DtwConfig, trials: int = 10, seed: int = 0) -> dict:
    """The edge's DTW score of every trial of these users (the harness's trials)."""
    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
    sigs, _ = load_signatures(index)
    scorer = EmbeddingScorer(None, Dtw.name, sequences_of(sigs, cfg), {"dtw": cfg.to_dict()})
    return score_trials(make_trials(index, trials=trials, seed=seed), scorer)


def _by_int_user(scores: dict) -> dict:
    return {k: {int(u): np.asarray(v, dtype=float) for u, v in scores[k].items()} for k in KINDS}


def pool(fold_scores: list[dict]) -> dict:
    """The scores of several folds (disjoint users) as one set: ONE threshold for all."""
    return {k: {u: v for s in fold_scores for u, v in s[k].items()} for k in KINDS}


def _genuine(fold_scores: list[dict]) -> np.ndarray:
    return np.concatenate([v for s in fold_scores for v in s["genuine"].values()])


def standardisers(cos_folds: list[dict], dtw_folds: list[dict]) -> tuple[tuple[float, float], ...]:
    """(mean, sd) of the genuine scores of each part, over the given folds."""
    out = []
    for folds in (cos_folds, dtw_folds):
        g = _genuine(folds)
        out.append((float(g.mean()), float(max(g.std(), 1e-9))))
    return tuple(out)


def fuse(cos: dict, dtw: dict, consts, weight: float) -> dict:
    """Fused scores of one fold's trials (same arithmetic as ``edge.scores.Fused``)."""
    (mc, sc), (md, sd) = consts
    return {k: {u: weight * (cos[k][u] - mc) / sc + (1 - weight) * (dtw[k][u] - md) / sd
                for u in cos[k]} for k in KINDS}


def choose(cos_folds: list[dict], dtw_folds: list[dict]) -> tuple[tuple, float]:
    """(constants, weight) chosen on these folds pooled: lowest pooled skilled EER."""
    consts = standardisers(cos_folds, dtw_folds)

    def pooled_eer(w: float) -> float:
        fused = pool([fuse(c, d, consts, w) for c, d in zip(cos_folds, dtw_folds)])
        gen = np.concatenate(list(fused["genuine"].values()))
        return metrics.eer(gen, np.concatenate(list(fused["skilled"].values())))[0]

    return consts, min(WEIGHTS, key=pooled_eer)


def params_of(base: str, consts, weight: float, cfg: DtwConfig) -> dict:
    (mc, sc), (md, sd) = consts
    r = lambda v: round(float(v), 9)  # noqa: E731 - the manifest's JSON stays readable
    return {"parts": [{"score": base, "mean": r(mc), "sd": r(sc), "weight": r(weight)},
                      {"score": Dtw.name, "mean": r(md), "sd": r(sd), "weight": r(1 - weight)}],
            "dtw": cfg.to_dict()}


def nested(cos_folds: list[dict], dtw_folds: list[dict]) -> tuple[list[dict], list[float], list[tuple]]:
    """Each fold's fused scores with constants and weight chosen on the other folds:
    (fused scores, weights, constants) per fold."""
    fused, weights, consts = [], [], []
    for k in range(len(cos_folds)):
        others = [j for j in range(len(cos_folds)) if j != k]
        c, w = choose([cos_folds[j] for j in others], [dtw_folds[j] for j in others])
        fused.append(fuse(cos_folds[k], dtw_folds[k], c, w))
        weights.append(w)
        consts.append(c)
    return fused, weights, consts


def components(folds: list[dict], folder: Path, cfg: DtwConfig) -> tuple[list[dict], list[dict]]:
    """(cosine, DTW) held-out scores of each cached fold on ``folder``."""
    name = Path(folder).name
    cos_folds = [_by_int_user(f["data"][name]["int8_scores"]) for f in folds]
    dtw_folds = [_by_int_user(dtw_scores(folder, f["test_users"], cfg)) for f in folds]
    return cos_folds, dtw_folds


def calibrate(folds: list[dict], folder: Path, base: str, cfg: DtwConfig) -> Fusion:
    """The shipped fused decision and its honest (nested) figures, from the
    cached cross-validation folds of ``folds.cross_validate`` on ``folder``."""
    cos_folds, dtw_folds = components(folds, folder, cfg)
    fused, weights, fold_consts = nested(cos_folds, dtw_folds)
    consts, w = choose(cos_folds, dtw_folds)
    threshold = metrics.pooled_threshold([fuse(c, d, consts, w) for c, d in zip(cos_folds, dtw_folds)])
    report = {"data": Path(folder).name, "nested_weights": weights, "weight": w,
              "folds": {"fused": [summarise(f) for f in fused], "cosine": [summarise(c) for c in cos_folds],
                        "dtw": [summarise(d) for d in dtw_folds]},
              "pooled": {"fused": summarise(pool(fused)), "cosine": summarise(pool(cos_folds)),
                         "dtw": summarise(pool(dtw_folds))}}
    return Fusion(params_of(base, consts, w, cfg), float(threshold), report,
                  {"fused": fused, "cosine": cos_folds, "device-dtw": dtw_folds},
                  [params_of(base, c, wk, cfg) for c, wk in zip(fold_consts, weights)])
