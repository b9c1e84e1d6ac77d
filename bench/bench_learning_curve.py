"""A learning curve: the shipped decision's accuracy against the number of training writers.

Is data or method the limit? For each pad kind and seed, each of the five user
folds of ``trainer.folds`` keeps its six held-out writers, and the tower is
trained on the first N of its 24 training writers (in an order drawn from
(seed, fold), the same for every N, so the sets grow: 6 within 12 within 18
within 24); N = 24 is the cached cross-validation itself. The fused decision
is then chosen as ``trainer.fusion`` chooses it, nested: fold k's weights and
constants from the other folds' held-out scores at the same N. The synthetic
writers of the recipe's pretraining are there at every N.

    python -m bench.bench_learning_curve --data ../shared/data/svc2004 --kinds pressure --seeds 0

One JSON line per (kind, seed, N) with the pooled figures (ONE threshold for
all 30 held-out writers) of the fused decision, its cosine and the DTW alone
(the DTW and the global features need no training: their line is the same
at every N, the control). Trained folds are cached in the cache's
learning/<recipe key>/ (~1.5-2 min a fold on 2 cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SIZES = (6, 12, 18, 24)
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")


def training_writers(train: list[int], n: int, seed: int, fold: int) -> list[int]:
    """The first ``n`` of the fold's training writers in a fixed drawn order (nested across n)."""
    order = np.random.default_rng([seed, fold, 2026]).permutation(sorted(train))
    return sorted(int(u) for u in order[:n])


def folds_at(recipe, n: int, seed: int, cache, log=print) -> list[dict]:
    """The five folds with towers trained on ``n`` writers each (cached)."""
    from trainer.folds import cross_validate, run_fold, user_folds
    from trainer.recipe import recipe_key

    users = list(range(1, 31))
    if n == 24:
        return cross_validate(recipe, users, cache, log=log)
    folder = cache.root / "learning" / recipe_key(recipe) / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, test in enumerate(user_folds(5, users)):
        path = folder / f"fold{k}.json"
        if not path.exists():
            train = training_writers([u for u in users if u not in test], n, seed, k)
            res = run_fold(recipe, train, test, cache)
            res["train_users"] = train
            path.write_text(json.dumps(res, default=int))
            log(f"n={n} fold {k} trained on {train}")
        out.append(json.loads(path.read_text()))
    return out


def run(kind: str, seed: int, root: Path, sizes=SIZES) -> list[dict]:
    import argparse

    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS
    from trainer.cache import Cache
    from trainer.fusion import calibrate, dtw_config
    from trainer.pipeline import stderr_log

    method, task, pressure = KINDS[kind]
    recipe = recipe_for(method, root, argparse.Namespace(seed=seed, epochs=None, synthetic=2000,
                                                          synthetic_epochs=6))
    lines = []
    for n in sizes:
        folds = folds_at(recipe, n, seed, Cache.at(None), log=stderr_log)
        fusion = calibrate(folds, root / task, recipe.score, dtw_config(pressure))
        pooled = fusion.report["pooled"]
        lines.append({"bench": "learning_curve", "kind": kind, "seed": seed, "training_writers": n,
                      **{d: {m: pooled[d][m] for m in METRICS} for d in ("fused", "cosine", "dtw")},
                      "nested_weights": fusion.report["nested_weights"]})
        print(json.dumps(lines[-1]), flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.bench_fusion import kind_seed_parser
    from firmware_bridge import svc2004
    from trainer.training_loop import configure_threads

    p = kind_seed_parser(__doc__)
    p.add_argument("--sizes", nargs="*", type=int, default=list(SIZES), choices=list(SIZES))
    args = p.parse_args(argv)
    root = (args.data or svc2004.default_data_root()).resolve()
    configure_threads()
    for kind in args.kinds:
        for seed in args.seeds:
            run(kind, seed, root, args.sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
