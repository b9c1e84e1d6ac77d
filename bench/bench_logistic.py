"""The calibrated combiner (``trainer.logistic``) against the shipped fused decision, over the five user folds.

For each pad kind and seed, each cached cross-validation fold's int8 file
embeds its six held-out writers and its branch gives their learned features
(``trainer.local_features.fold_features``); the same trials as the shipped
decision's figures (random-refs: 10 trials of 5 references from S1-S10)
are scored by every part of ``trainer.logistic.part_names`` at once
(``PartsScorer``: the edge's scores). Decisions, every choice made on the
OTHER folds:

* ``fused`` - the shipped decision, nested (``trainer.fusion.calibrate``);
* ``logistic`` - the regression over every part (the candidate, named before
  the run): 17 parts with pressure, 16 without;
* ``logistic-shipped-parts`` - the regression over the shipped decision's
  weighed parts only (cosine, DTW, learned DTW): what fitting the weights
  by a regression instead of a grid does, with nothing added.

Beside the EERs, each regression's rates at its own calibrated point (log-odds
0, no threshold chosen on any scores): ``frr_at_0``, ``far_skilled_at_0``,
``far_random_at_0`` over the pooled held-out trials.

    python -m bench.bench_logistic --data ../shared/data/svc2004 --seeds 0 1 2

One JSON line per (kind, seed, decision) and one per (kind, decision) over seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")
SHIPPED_PARTS = ("dtw", "learned-dtw")  # beside the model's cosine score: the shipped decision's weighed parts


def every_part(names, shipped: dict) -> dict:
    """A fused score's params with every named part, unweighted, and the shipped settings."""
    from edge.global_features import GlobalConfig

    parts = [{"score": n, "mean": 0.0, "sd": 1.0, "weight": 1.0} for n in names]
    out = {"parts": parts, "dtw": shipped["dtw"],
           "globals": GlobalConfig(pressure=shipped["dtw"]["pressure"]).to_dict()}
    if "learned" in shipped:
        out["learned"] = shipped["learned"]
    return out


def at_zero(scores: dict) -> dict:
    """The rates at log-odds 0, the regression's own calibrated point."""
    from trainer.fusion import _flat
    return {"frr_at_0": round(100 * float(np.mean(_flat(scores, "genuine") < 0)), 2),
            "far_skilled_at_0": round(100 * float(np.mean(_flat(scores, "skilled") >= 0)), 2),
            "far_random_at_0": round(100 * float(np.mean(_flat(scores, "random") >= 0)), 2)}


def run(kind: str, seed: int, root: Path) -> list[dict]:
    from bench.bench_fusion import calibrated
    from trainer import logistic
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import summarise
    from trainer.fusion import pool
    from trainer.references import CALIBRATED_AT, part_folds_at

    recipe, folds, fusion, folder = calibrated(kind, seed, root)
    names = logistic.part_names(recipe.score, fusion.params["dtw"]["pressure"], "learned" in fusion.params)
    part_folds = part_folds_at(recipe, folds, folder, every_part(names, fusion.params), Cache.at(None), CALIBRATED_AT)
    # The cosine scored here is the cached one the shipped decision was fused from: the same trials.
    drift = max(float(np.max(np.abs(a[kd][u] - b[kd][u]))) for a, b in zip(part_folds[0], fusion.scores["cosine"])
                for kd in a for u in a[kd] if len(a[kd][u]))
    lines = []
    shipped = [part_folds[0]] + [part_folds[names.index(n)] for n in SHIPPED_PARTS if n in names]
    decisions = {"fused": (fusion.scores["fused"], None), "logistic": logistic.nested(part_folds),
                 "logistic-shipped-parts": logistic.nested(shipped)}
    for name, (scores, chosen) in decisions.items():
        s = summarise(pool(scores))
        line = {"bench": "logistic", "kind": kind, "seed": seed, "decision": name, **{m: s[m] for m in METRICS}}
        if chosen is not None:
            line |= at_zero(pool(scores)) | {"penalties": [c["penalty"] for c in chosen]}
        lines.append(line)
    lines[0]["cosine_drift"] = drift
    lines[1]["parts"] = list(names)
    return lines


def over_seeds(lines: list[dict]) -> list[dict]:
    out = []
    for kind, decision in dict.fromkeys((ln["kind"], ln["decision"]) for ln in lines):
        rows = [ln for ln in lines if (ln["kind"], ln["decision"]) == (kind, decision)]
        out.append({"bench": "logistic", "kind": kind, "decision": decision, "summary": f"{len(rows)} seeds",
                    **{m: {"mean": round(float(np.mean([x[m] for x in rows])), 2),
                           "by_seed": [x[m] for x in rows]} for m in METRICS}})
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.bench_fusion import over_kinds_and_seeds
    return over_kinds_and_seeds(__doc__, argv, run, over_seeds)

if __name__ == "__main__":
    sys.exit(main())
