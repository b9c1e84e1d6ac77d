"""How many references: the shipped decision's accuracy with 3 to 10 enrolment signatures.

For each pad kind and seed, each cached cross-validation fold's int8 file
embeds its six held-out writers; the fused decision is fold k's nested one
(``trainer.fusion.calibrate(...).fold_params[k]``: weights and constants chosen
on the other folds, with 5 references, as shipped). Its trials draw R
references from S1-S10 (``trials.make_trials``, 10 trials a writer) and test
every other genuine signature, the writer's skilled forgeries and one
genuine signature of each other held-out writer, for R in ``REFS``.

    python -m bench.bench_references --data ../shared/data/svc2004 --seeds 0 1 2

One JSON line per (kind, seed, R): pooled figures over the 30 held-out
writers (ONE threshold), then one per (kind, R) over seeds. The number of
references a device asks for is ``[enrol] count`` (3 to 12; the store holds
at most 4 KB a user: 6 references of either shipped model, whose learned
features make them 658 and 590 bytes). A decision with learned features
scores them through each fold's own branch
(``trainer.local_features.fold_features``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REFS = (3, 4, 5, 6, 8, 10)
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")


def fold_scores(model_dir: Path, folder: Path, users, params: dict, learned=None) -> dict[int, dict]:
    """The fused scores of one fold's held-out writers for each number of references
    (``REFS``): the signatures read, embedded and measured once; ``learned``, for a
    decision with learned features, gives theirs (signatures -> features)."""
    from edge.model import Encoder
    from edge.scores import get
    from firmware_bridge import svc2004
    from trainer.evaluation.evaluate import EmbeddingScorer, globals_of, load_signatures, score_trials, sequences_of
    from trainer.evaluation.trials import make_trials

    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
    sigs, _ = load_signatures(index)
    keys = list(sigs)
    emb = dict(zip(keys, Encoder(model_dir).embed_many([sigs[k] for k in keys])))
    score = get("fused").configured(params)
    scorer = EmbeddingScorer(emb, "fused", sequences_of(sigs, score.dtw), params,
                             globals_of(sigs, score.globals) if score.globals else None,
                             learned(sigs) if learned else None)
    return {r: score_trials(make_trials(index, trials=10, refs=r, seed=0), scorer) for r in REFS}


def run(kind: str, seed: int, root: Path) -> list[dict]:
    from bench.bench_fusion import calibrated
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import summarise
    from trainer.folds import fold_model
    from trainer.fusion import pool
    from trainer.local_features import fold_features

    recipe, folds, fusion, folder = calibrated(kind, seed, root)
    cache = Cache.at(None)
    per_refs: dict[int, list[dict]] = {r: [] for r in REFS}
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            model = fold_model(recipe, fold, Path(tmp) / f"fold{k}", cache)
            if model is None:
                raise SystemExit("folds cached without their int8 files: retrain them (docs/training.md)")
            for r, scored in fold_scores(model, folder, fold["test_users"], fusion.fold_params[k],
                                         fold_features(recipe, fold, cache)).items():
                per_refs[r].append(scored)
    lines = []
    for r in REFS:
        s = summarise(pool(per_refs[r]))
        lines.append({"bench": "references", "kind": kind, "seed": seed, "refs": r, **{m: s[m] for m in METRICS}})
    return lines


def over_seeds(lines: list[dict]) -> list[dict]:
    out = []
    for kind, r in sorted({(ln["kind"], ln["refs"]) for ln in lines}):
        rows = [ln for ln in lines if (ln["kind"], ln["refs"]) == (kind, r)]
        out.append({"bench": "references", "kind": kind, "refs": r, "summary": f"{len(rows)} seeds",
                    **{m: {"mean": round(float(np.mean([x[m] for x in rows])), 2),
                           "spread": round(float(np.ptp([x[m] for x in rows])), 2)} for m in METRICS}})
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.bench_fusion import over_kinds_and_seeds
    return over_kinds_and_seeds(__doc__, argv, run, over_seeds)

if __name__ == "__main__":
    sys.exit(main())
