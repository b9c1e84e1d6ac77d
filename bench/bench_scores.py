"""Scores and seed ensembles of the shipped recipe, on five user folds.

For each seed, the shipped pressure recipe (synthetic pretraining, then
contrastive fine-tuning on Task2) is trained once per user fold and its int8
file kept under ``runs/foldmodels/seed<S>/fold<k>/`` (reused when present).
Each fold's held-out users are then scored with every edge score
(``edge.scores``), and with the mean over seeds of the mean-cosine
scores: the cosine of the seeds' concatenated unit embeddings, i.e. one
model made of several towers. One JSON line per (score or ensemble), with the
per-fold global and per-writer EERs, and the operating point of ONE threshold
pooled over all five folds (what a device ships).

    python -m bench.bench_scores --data ../shared/data/svc2004 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FOLDS = Path("runs/foldmodels")


def fold_model(root: Path, seed: int, k: int, train_users: list[int], synthetic: int) -> Path:
    """The int8 model of one fold and seed, trained if not cached."""
    out = FOLDS / f"seed{seed}" / f"fold{k}"
    if (out / "manifest.json").exists():
        return out
    from bench.bench_accuracy import recipe_for
    from trainer.cache import Cache
    from trainer.export import write_int8_model
    from trainer.towers import train_encoder

    args = argparse.Namespace(seed=seed, epochs=None, synthetic=synthetic, synthetic_epochs=6)
    recipe = recipe_for("synth-contrastive", root, args)
    encoder, data, _ = train_encoder(recipe, train_users, Cache.at(None))
    write_int8_model(out, encoder, data.x, recipe.preprocessing, 0.0, {"fold": k, "train_users": train_users})
    return out


def summarise(per_fold: list[dict]) -> dict:
    """Per-fold EERs (the harness's) and the pooled one-threshold operating point."""
    from trainer.evaluation import metrics
    from trainer.evaluation.evaluate import summarise as fold_summary
    from trainer.evaluation.metrics import pooled_threshold

    rows = [fold_summary(s) for s in per_fold]
    pooled = {kind: np.concatenate([np.concatenate(list(s[kind].values())) for s in per_fold])
              for kind in ("genuine", "skilled", "random")}
    thr = pooled_threshold(per_fold)
    far_skilled, frr = metrics.rates_at(pooled["genuine"], pooled["skilled"], thr)
    far_random, _ = metrics.rates_at(pooled["genuine"], pooled["random"], thr)
    out = {k: round(float(np.mean([r[k] for r in rows])), 2)
           for k in ("eer_skilled", "eer_skilled_per_writer", "eer_random", "eer_random_per_writer")}
    out["eer_skilled_folds"] = [r["eer_skilled"] for r in rows]
    return out | {"pooled_threshold": round(thr, 4), "pooled_frr_pct": round(100 * frr, 2),
                  "pooled_far_skilled_pct": round(100 * far_skilled, 2),
                  "pooled_far_random_pct": round(100 * far_random, 2)}


def mean_scores(score_sets: list[dict]) -> dict:
    """Elementwise mean of several seeds' scores of the same trials."""
    return {kind: {u: list(np.mean([s[kind][u] for s in score_sets], axis=0)) for u in score_sets[0][kind]}
            for kind in score_sets[0]}


def fold_scores(root: Path, model: Path, test_users: list[int]) -> dict:
    """{score name: raw scores} of one fold model: embedded once, scored every way."""
    from edge.scores import names
    from firmware_bridge import svc2004
    from trainer.evaluation.evaluate import ModelScorer, load_signatures, score_trials
    from trainer.evaluation.trials import make_trials

    index = {u: f for u, f in svc2004.scan(root / "Task2").items() if u in set(test_users)}
    sigs, _ = load_signatures(index)
    scorer, trials = ModelScorer(sigs, model), make_trials(index)
    out = {}
    for name in names():
        scorer.score_name = name
        out[name] = score_trials(trials, scorer)
    return out


def main(argv: list[str] | None = None) -> int:
    from edge.scores import MeanCosine, names
    from firmware_bridge import svc2004
    from trainer.folds import user_folds

    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task2/ inside)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--synthetic", type=int, default=2000)
    args = p.parse_args(argv)
    root = (args.data or svc2004.default_data_root()).resolve()
    folds = user_folds(5)
    by_seed = {s: [] for s in args.seeds}  # seed -> per fold: {score name: raw scores}
    for seed in args.seeds:
        for k, test in enumerate(folds):
            model = fold_model(root, seed, k, [u for u in range(1, 31) if u not in test], args.synthetic)
            by_seed[seed].append(fold_scores(root, model, test))
            print(f"seed {seed} fold {k} scored", file=sys.stderr)
        for name in names():
            print(json.dumps({"bench": "scores", "seed": seed, "score": name,
                              **summarise([f[name] for f in by_seed[seed]])}), flush=True)
    if len(args.seeds) > 1:
        per_fold = [mean_scores([by_seed[s][k][MeanCosine.name] for s in args.seeds]) for k in range(len(folds))]
        print(json.dumps({"bench": "scores", "ensemble_seeds": args.seeds, "score": MeanCosine.name,
                          **summarise(per_fold)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
