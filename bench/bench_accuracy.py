"""Accuracy over the five user folds of users 1-30: DTW vs the encoder's losses.

One JSON line per (method, fold, task, precision) and one summary line per
(method, task, precision) with mean, min and max over folds, on stdout.
Each fold trains on 24 users and is scored on the other 6 with the harness
protocol (10 trials, 5 references). Training folds are cached (``--cache``, default ~/.cache/sigpad), so
a second run only re-evaluates; a first run takes tens of minutes on 2 cores.

    python -m bench.bench_accuracy --data ../shared/data/svc2004 [--methods ...] > runs/acc.jsonl
    python -m bench.bench_accuracy --table runs/acc.jsonl      # the markdown table

Methods: dtw, contrastive, bromley, seed-answer (real-only, pressure model,
Task2), nopressure (contrastive, pressure-free model on Task1 + Task2 without
pressure), synth-contrastive / synth-nopressure (pretrained on
``--synthetic`` synthetic writers, then fine-tuned), distilled (the
pressure recipe shipped before session-change augmentation: three
synth-contrastive towers, seeds 0-2, distilled into one; trainer.distill),
distilled-nopressure (the same from three nopressure towers), and the
alternatives of docs/training.md: pressure-learned and nopressure-learned
are the shipped recipes (``trainer.recipe.SHIPPED_PRESSURE``,
``SHIPPED_NO_PRESSURE``: distilled-session and nopressure-variants with learned
local features beside, which this benchmark of the cosine does not score).
Each method's recipe is derived from the named recipes of trainer.recipe (``method_recipes``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from trainer.recipe import (
    NO_PRESSURE_TOWER,
    NO_PRESSURE_VARIANTS,
    PRESSURE_DISTILLED,
    PRESSURE_SESSION,
    PRESSURE_TOWER,
    SHIPPED_DISTILLATION,
    SHIPPED_NO_PRESSURE,
    SHIPPED_PRESSURE,
    Recipe,
    on_data,
)

METHODS = ("dtw", "contrastive", "bromley", "seed-answer", "nopressure",
           "synth-contrastive", "synth-nopressure", "distilled", "distilled-nopressure",
           "synth-contrastive-sigcomp", "distilled-dtw", "nopressure-dtw", "distilled-variants",
           "nopressure-variants", "distilled-session", "nopressure-session", "nopressure-learned",
           "pressure-learned")
# Fixed before any run: half the teacher's say on same-writer pairs goes to DTW.
DTW_TEACHER = 0.5
# Fixed before any run: 5 fits per training writer (4 genuine variants and 4 forgeries each).
VARIANTS = 5
# Fixed before any run: the session change at the ranges of trainer.session_augment.
SESSION = 1.0
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "eer_random_per_writer")


def method_recipes() -> dict[str, Recipe]:
    """Every trained method's recipe, from the named ones of trainer.recipe (data folders not yet
    on a root; seed 0, fit's epochs, 2000 synthetic writers for 6 epochs where it pretrains)."""
    def loss(name: str) -> Recipe:
        return replace(PRESSURE_TOWER, train=replace(PRESSURE_TOWER.train, loss=name))

    def session(r: Recipe) -> Recipe:
        return replace(r, train=replace(r.train, session_augment=SESSION))

    synth = replace(PRESSURE_TOWER, synthetic=PRESSURE_DISTILLED.synthetic)
    dtw_teacher = replace(SHIPPED_DISTILLATION, dtw_weight=DTW_TEACHER)
    return {"contrastive": PRESSURE_TOWER, "bromley": loss("bromley"), "seed-answer": loss("seed-answer"),
            "nopressure": NO_PRESSURE_TOWER, "synth-contrastive": synth,
            "synth-nopressure": replace(NO_PRESSURE_TOWER, synthetic=PRESSURE_DISTILLED.synthetic),
            # the pressure recipe shipped before session-change augmentation: three towers distilled
            "distilled": PRESSURE_DISTILLED,
            "distilled-nopressure": replace(NO_PRESSURE_TOWER, towers=PRESSURE_DISTILLED.towers,
                                            distill=SHIPPED_DISTILLATION, score=PRESSURE_DISTILLED.score),
            "synth-contrastive-sigcomp": replace(synth, sigcomp2009=True),  # + SigComp2009's real forgeries
            "distilled-dtw": replace(PRESSURE_DISTILLED, distill=dtw_teacher),  # DTW in the teacher
            "nopressure-dtw": replace(NO_PRESSURE_TOWER, distill=dtw_teacher),  # one tower teaching itself + DTW
            "distilled-variants": replace(PRESSURE_DISTILLED, variants=VARIANTS),
            "nopressure-variants": NO_PRESSURE_VARIANTS,
            "nopressure-learned": SHIPPED_NO_PRESSURE,   # the same folds; learned local features beside
            "distilled-session": PRESSURE_SESSION,
            "pressure-learned": SHIPPED_PRESSURE,   # the same folds; pressure-blind learned local features beside
            "nopressure-session": session(NO_PRESSURE_TOWER)}


def recipe_for(method: str, root: Path, args: argparse.Namespace) -> Recipe:
    """The trainer.recipe.Recipe of a method on the data under ``root``, with the run's seed,
    epochs (None: fit's) and, where the method pretrains, its synthetic writers and epochs."""
    recipe = method_recipes()[method]
    train = replace(recipe.train, seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    recipe = replace(recipe, train=train)
    if recipe.synthetic:
        recipe = replace(recipe, synthetic=args.synthetic, synthetic_epochs=args.synthetic_epochs)
    return on_data(recipe, root)


def dtw_folds(root: Path, task: str):
    from trainer.evaluation.evaluate import evaluate
    from trainer.folds import user_folds, users_spec
    return [evaluate(root / task, "dtw", users=users_spec(f))[0] for f in user_folds()]


def emit(method, task, prec, summaries):
    for k, s in enumerate(summaries):
        print(json.dumps({"bench": "accuracy", "method": method, "task": task, "precision": prec,
                          "fold": k, **{m: s[m] for m in METRICS}}), flush=True)
    print(json.dumps({"bench": "accuracy", "method": method, "task": task, "precision": prec,
                      "summary": "5 folds", **{m: _stats([s[m] for s in summaries]) for m in METRICS}}),
          flush=True)


def _stats(v):
    return {"mean": round(float(np.mean(v)), 2), "min": round(float(np.min(v)), 2),
            "max": round(float(np.max(v)), 2)}


def markdown_table(lines) -> str:
    """The summary lines of a run as a markdown table (mean [min-max] over folds)."""
    rows = [json.loads(ln) for ln in lines if ln.strip().startswith("{")]
    out = ["| method | task | precision | skilled EER, global | skilled EER, per writer "
           "| random EER, global | random EER, per writer |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("summary"):
            cells = [f"{r[m]['mean']:.2f} [{r[m]['min']:.2f}-{r[m]['max']:.2f}]" for m in METRICS]
            out.append(f"| {r['method']} | {r['task']} | {r['precision']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from firmware_bridge import svc2004

    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, default=None,
                   help="print the markdown table of a saved run's JSON lines and exit")
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task1/, Task2/)")
    p.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="(fine-tuning) epochs, default fit's")
    p.add_argument("--synthetic", type=int, default=2000, help="synthetic writers for synth-*")
    p.add_argument("--synthetic-epochs", type=int, default=6, help="pretraining epochs for synth-*")
    p.add_argument("--cache", type=Path, default=None, help="trained folds (default: ~/.cache/sigpad)")
    args = p.parse_args(argv)
    if args.table:
        print(markdown_table(args.table.read_text().splitlines()))
        return 0
    root = (args.data or svc2004.default_data_root()).resolve()
    for method in args.methods:
        if method == "dtw":
            for task in ("Task2", "Task1"):
                emit("dtw", task, "-", dtw_folds(root, task))
            continue
        from trainer.cache import Cache
        from trainer.folds import cross_validate
        from trainer.pipeline import stderr_log
        from trainer.training_loop import configure_threads
        configure_threads()
        folds = cross_validate(recipe_for(method, root, args), list(range(1, 31)), Cache.at(args.cache),
                               log=stderr_log)
        for task in folds[0]["data"]:
            for prec in ("float", "int8"):
                emit(method, task, prec, [f["data"][task][prec] for f in folds])
    return 0


if __name__ == "__main__":
    sys.exit(main())
