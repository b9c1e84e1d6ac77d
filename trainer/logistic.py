"""A calibrated combiner: a logistic regression over writer-normalised parts (issue #20, item 2).

The shipped fused decision weighs two or three standardised parts on a grid
(``trainer.fusion``). This one weighs many: for each comparator (the cosine,
the raw DTW, the learned DTW) the probe's mean, least, greatest and typical
distance to the references in the references' own spread
(``edge.normalised_scores``), and the deviations of the global features
(timing, size, strokes, pressure) in the writer's own units. A logistic
regression fitted on TRAINING writers' trials gives the weights and an
intercept; the edge runs it as a ``fused`` score with that intercept, whose
value is then the log-odds that the signature is genuine.

Fixed before any run, not tuned on the folds reported:

* ``CLASS_SHARES``: genuine trials weigh half, skilled and random forgeries a
  quarter each, each kind's trials equally within it (the logit's 0 is the
  point where a genuine signature and a forgery are equally likely, whatever
  each writer's counts);
* ``PENALTIES``: the L2 penalties tried on the weights (not the intercept);
  the one with the lowest pooled skilled EER on the training folds, each left
  out in turn, is chosen (the first on a tie), then refitted on all of them.

Fitted by Newton's method, which for this convex loss converges in a few
steps: each step solves the weighted least-squares system of the loss's
gradient and Hessian.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .evaluation import metrics
from .fusion import ASPECT_PARTS, KINDS, _flat, _fold, fuse, params_of, pool, standardisers

F64 = npt.NDArray[np.float64]
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)
CLASS_SHARES = {"genuine": 0.5, "skilled": 0.25, "random": 0.25}
STATISTICS = ("least", "greatest", "typical")


def part_names(base: str, use_pressure: bool, learned: bool) -> tuple[str, ...]:
    """The regression's parts: the model's cosine score, each comparator's mean,
    least, greatest and typical distance in spreads, then the global aspects."""
    comparators = [("refnorm-distance", "cosine"), ("dtw", "dtw")]
    comparators += [("learned-dtw", "learned-dtw")] if learned else []
    distances = [n for mean, c in comparators for n in (mean, *(f"{c}-{s}" for s in STATISTICS))]
    aspects = [p for p in ASPECT_PARTS if use_pressure or p != "pressure-deviation"]
    return (base, *distances, *aspects)


def fit(x: F64, y: F64, w: F64, penalty: float, steps: int = 100) -> tuple[float, F64]:
    """(intercept, weights) minimising ``sum_i w_i logloss_i / sum w + penalty/2 |weights|^2``."""
    x1 = np.hstack([np.ones((len(x), 1)), np.asarray(x, dtype=float)])
    w = np.asarray(w, dtype=float) / np.sum(w)
    ridge = np.full(x1.shape[1], float(penalty))
    ridge[0] = 1e-12  # the intercept is not penalised (this only keeps the system regular)
    theta = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x1 @ theta)))
        gradient = x1.T @ (w * (p - y)) + ridge * theta
        hessian = (x1 * (w * p * (1 - p))[:, None]).T @ x1 + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(theta[0]), theta[1:]


def design(part_folds: list[list[dict]], consts) -> tuple[F64, F64, F64]:
    """The regression's rows over these folds pooled: standardised parts, 1 for a
    genuine trial and 0 for a forgery, and each row's weight (``CLASS_SHARES``)."""
    pooled = [pool(folds) for folds in part_folds]
    xs, ys, ws = [], [], []
    for kind in KINDS:
        z = np.stack([(_flat(p, kind) - m) / sd for p, (m, sd) in zip(pooled, consts)], axis=1)
        xs.append(z)
        ys.append(np.full(len(z), 1.0 if kind == "genuine" else 0.0))
        ws.append(np.full(len(z), CLASS_SHARES[kind] / max(len(z), 1)))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fitted(part_folds: list[list[dict]], penalty: float) -> tuple[tuple, float, F64]:
    """(constants, intercept, weights) fitted on these folds."""
    consts = standardisers(part_folds)
    intercept, weights = fit(*design(part_folds, consts), penalty)
    return consts, intercept, weights


def logits(parts: list[dict], consts, intercept: float, weights) -> dict:
    """One fold's scores under a fitted regression (``edge.scores.Fused`` with its intercept)."""
    fused = fuse(parts, consts, [float(w) for w in weights])
    return {k: {u: intercept + v for u, v in fused[k].items()} for k in KINDS}


def _others(part_folds: list[list[dict]], k: int) -> list[list[dict]]:
    return [[f for j, f in enumerate(folds) if j != k] for folds in part_folds]


def choose(part_folds: list[list[dict]]) -> dict[str, Any]:
    """The penalty with the lowest pooled skilled EER over these folds, each left out
    in turn, and the regression refitted on all of them with it."""
    n = len(part_folds[0])
    eers = []
    for penalty in PENALTIES:
        held = [logits(_fold(part_folds, k), *fitted(_others(part_folds, k), penalty)) for k in range(n)]
        every = pool(held)
        eers.append(metrics.eer(_flat(every, "genuine"), _flat(every, "skilled"))[0])
    penalty = PENALTIES[int(np.argmin(eers))]
    consts, intercept, weights = fitted(part_folds, penalty)
    return {"penalty": penalty, "consts": consts, "intercept": intercept, "weights": weights,
            "inner_eers": [round(100 * float(e), 3) for e in eers]}


def nested(part_folds: list[list[dict]]) -> tuple[list[dict], list[dict]]:
    """Each fold's scores under the regression chosen and fitted on the OTHER folds:
    (scores per fold, what was chosen per fold)."""
    n = len(part_folds[0])
    chosen = [choose(_others(part_folds, k)) for k in range(n)]
    return [logits(_fold(part_folds, k), c["consts"], c["intercept"], c["weights"])
            for k, c in enumerate(chosen)], chosen


def params(names, chosen: dict[str, Any], cfg, learned=None) -> dict:
    """The manifest's ``params`` of the ``fused`` score that runs a fitted regression."""
    out = params_of(names, chosen["consts"], chosen["weights"], cfg, learned)
    out["intercept"] = round(float(chosen["intercept"]), 9)
    return out


def by_part(rows: dict) -> list[dict]:
    """``score_trials``' rows of part scores (``PartsScorer``) as one fold's scores per part."""
    width = len(next(r for v in rows["genuine"].values() for r in v))
    return [{k: {int(u): np.asarray([r[j] for r in v], dtype=float).reshape(-1) for u, v in rows[k].items()}
             for k in KINDS} for j in range(width)]
