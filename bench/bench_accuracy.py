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
``--synthetic`` synthetic writers, then fine-tuned), and distilled (the
shipped pressure recipe: three synth-contrastive towers, seeds 0-2,
distilled into one; trainer.distill), distilled-nopressure (the same from
three nopressure towers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge.scores import CentroidMaxCosine

METHODS = ("dtw", "contrastive", "bromley", "seed-answer", "nopressure",
           "synth-contrastive", "synth-nopressure", "distilled", "distilled-nopressure",
           "synth-contrastive-sigcomp", "distilled-dtw", "nopressure-dtw", "distilled-variants",
           "nopressure-variants", "distilled-session", "nopressure-session")
# The shipped pressure recipe (Makefile `model`): teacher towers and distillation.
DISTILLED = ["--towers", "3", "--distill-epochs", "16", "--label-weight", "5", "--score", CentroidMaxCosine.name]
# Fixed before any run: half the teacher's say on same-writer pairs goes to DTW.
DTW_TEACHER = ["--distill-dtw", "0.5"]
# Fixed before any run: 5 fits per training writer (4 genuine variants and 4 forgeries each).
VARIANTS = ["--variants", "5"]
# Fixed before any run: the session change at the ranges of trainer.session_augment.
SESSION = ["--session-augment", "1.0"]
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "eer_random_per_writer")


def recipe_for(method: str, root: Path, args, extra: list[str] = ()):
    """The trainer.recipe.Recipe of a method, built from fit's options as `make model` gives them."""
    from trainer.fit_command import add_arguments, recipe_from_args

    p = argparse.ArgumentParser(allow_abbrev=False)
    add_arguments(p)
    if method == "distilled":
        return recipe_for("synth-contrastive", root, args, extra=DISTILLED)
    if method == "distilled-dtw":  # the shipped distillation with DTW in its teacher (trainer.dtw_teacher)
        return recipe_for("synth-contrastive", root, args, extra=[*DISTILLED, *DTW_TEACHER])
    if method == "nopressure-dtw":  # the pressure-free tower teaching itself, plus DTW
        return recipe_for("nopressure", root, args, extra=["--distill-epochs", "16", "--label-weight", "5",
                                                            *DTW_TEACHER])
    if method == "distilled-variants":  # + variants of the training writers (trainer.variants)
        return recipe_for("synth-contrastive", root, args, extra=[*DISTILLED, *VARIANTS])
    if method == "nopressure-variants":
        return recipe_for("nopressure", root, args, extra=VARIANTS)
    if method == "distilled-session":  # + session-change augmentation (trainer.session_augment)
        return recipe_for("synth-contrastive", root, args, extra=[*DISTILLED, *SESSION])
    if method == "nopressure-session":
        return recipe_for("nopressure", root, args, extra=SESSION)
    if method == "distilled-nopressure":  # real writers only, as the nopressure row
        return recipe_for("nopressure", root, args, extra=DISTILLED)
    if method == "synth-contrastive-sigcomp":  # + SigComp2009's real forgeries by 31 forgers
        return recipe_for("synth-contrastive", root, args, extra=["--sigcomp2009", *extra])
    synth = method.startswith("synth-")
    base = method.removeprefix("synth-")
    argv = ["--seed", str(args.seed), "--quiet"] + (["--epochs", str(args.epochs)] if args.epochs else [])
    if base == "nopressure":
        argv += ["--no-pressure", "--data", str(root / "Task1"), "--data", str(root / "Task2")]
    else:
        argv += ["--data", str(root / "Task2"), "--loss", base]
    if synth:
        argv += ["--synthetic", str(args.synthetic), "--synthetic-epochs", str(args.synthetic_epochs)]
    return recipe_from_args(p.parse_args(argv + list(extra)))


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
        from trainer.pretraining import use_cache_dir
        from trainer.recipe import cross_validate
        from trainer.training_loop import configure_threads
        configure_threads()
        use_cache_dir(args.cache)
        folds = cross_validate(recipe_for(method, root, args), list(range(1, 31)),
                               log=lambda m: print(m, file=sys.stderr))
        for task in folds[0]["data"]:
            for prec in ("float", "int8"):
                emit(method, task, prec, [f["data"][task][prec] for f in folds])
    return 0


if __name__ == "__main__":
    sys.exit(main())
