"""Accuracy of the shipped decisions over the five user folds, every choice made without the reported fold.

For each pad kind (pressure: the distilled recipe on Task2; without pressure:
the pressure-free recipe, judged on Task1) and each seed, the folds of
``trainer.folds.cross_validate`` (cached in the cache's cv/) give, per fold k:

* ``cosine`` - the fold's int8 model and the recipe's score;
* ``device-dtw`` - the edge's DTW (``edge.dtw``, 64 int8 points) alone;
* ``fused`` - both, with weight and constants chosen on the OTHER folds'
  held-out scores (``trainer.fusion.nested``): nothing is chosen on fold k;
* ``fused+aspects`` - the same with the global features' deviations weighed
  too (``trainer.fusion.ALTERNATIVE_ASPECT_WEIGHTS``, nested likewise; random-refs only);
* ``dtw-reference`` - the project's DTW reference (dtaidistance, full rate).

Two protocols: ``random-refs`` (SVC2004-style: 10 trials of 5 references
drawn from S1-S10) and ``session`` (references S1-S5, genuine tests S11-S20:
enrolled in one session, verified in the next), the latter through each
fold's own int8 file and the edge's decision code.

    python -m bench.bench_fusion --data ../shared/data/svc2004 --seeds 0 1 2

One JSON line per (kind, seed, protocol, decision): mean/min/max over folds
and the pooled figure (ONE threshold for all 30 held-out users); then a line
per (kind, protocol, decision) over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

KINDS = {"pressure": ("pressure-learned", "Task2", True), "no_pressure": ("nopressure-learned", "Task1", False),
         "pressure-session": ("distilled-session", "Task2", True),
         "no_pressure-variants": ("nopressure-variants", "Task1", False),
         # experiments, only with --kinds (bench_alternatives runs them):
         # the recipes shipped before the rule of docs/training.md chose the ones above
         "pressure-previous": ("distilled", "Task2", True),
         "no_pressure-previous": ("nopressure", "Task1", False),
         # one pretrained tower, without and with SigComp2009; one tower on real writers only
         "pressure-1tower": ("synth-contrastive", "Task2", True),
         "pressure-1tower-real": ("contrastive", "Task2", True),
         "pressure-1tower+sigcomp2009": ("synth-contrastive-sigcomp", "Task2", True),
         # on the previous recipes: DTW in the distillation's teacher (#12 item 3)
         "pressure-dtwteacher": ("distilled-dtw", "Task2", True),
         "no_pressure-dtwteacher": ("nopressure-dtw", "Task1", False),
         # the other pad kind's choice, on this one's previous recipe (#12 items 7 and 4)
         "pressure-variants": ("distilled-variants", "Task2", True),
         "no_pressure-session": ("nopressure-session", "Task1", False)}
DEFAULT_KINDS = ("pressure", "no_pressure")
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")


def _over_folds(summaries: list[dict]) -> dict:
    return {m: {"mean": round(float(np.mean([s[m] for s in summaries])), 2),
                "min": round(float(np.min([s[m] for s in summaries])), 2),
                "max": round(float(np.max([s[m] for s in summaries])), 2)} for m in METRICS}


def _line(kind, seed, protocol, decision, per_fold, pooled, **extra) -> dict:
    from trainer.evaluation.evaluate import summarise
    from trainer.fusion import pool
    return {"bench": "fusion", "kind": kind, "seed": seed, "protocol": protocol, "decision": decision,
            "folds": _over_folds([summarise(s) for s in per_fold]),
            "pooled": {m: summarise(pool(pooled))[m] for m in METRICS}, **extra}


def random_refs(kind, seed, recipe, folds, folder, fusion) -> list[dict]:
    from trainer.evaluation.evaluate import evaluate
    from trainer.folds import users_spec

    ref = [evaluate(folder, "dtw", users=users_spec(f["test_users"]))[1] for f in folds]
    lines = [_line(kind, seed, "random-refs", d, s, s) for d, s in fusion.scores.items()]
    lines[0]["weights"] = fusion.report["nested_weights"]
    lines[0]["random_errors"] = random_errors(fusion.scores["fused"])
    lines[0]["nested_levels"] = fusion.report["nested_levels"]   # each fold's levels from the other folds
    return lines + [_line(kind, seed, "random-refs", "dtw-reference", ref, ref)]


def random_errors(per_fold: list[dict]) -> dict:
    """Who makes the pooled random EER: per user, (random forgeries accepted, genuine
    tests rejected) at the pooled random-EER threshold; users with neither left out."""
    from trainer.evaluation import metrics
    from trainer.fusion import pool

    p = pool(per_fold)
    _, thr = metrics.eer(np.concatenate(list(p["genuine"].values())), np.concatenate(list(p["random"].values())))
    out = {str(u): [int(np.sum(np.asarray(p["random"][u]) >= thr)), int(np.sum(np.asarray(p["genuine"][u]) < thr))]
           for u in sorted(p["genuine"])}
    return {u: v for u, v in out.items() if any(v)}


def session(kind, seed, recipe, folds, folder, fusion) -> list[dict]:
    """Each fold's int8 file, with the fused decision chosen on the other folds, under the session protocol."""
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import evaluate
    from trainer.folds import fold_model, users_spec

    if recipe.local is not None:
        return session_learned(kind, seed, recipe, folds, folder, fusion)
    out = {"fused": [], "cosine": [], "dtw-reference": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            model = fold_model(recipe, fold, Path(tmp) / f"fold{k}", Cache.at(None))
            if model is None:
                return [{"bench": "fusion", "kind": kind, "seed": seed, "protocol": "session",
                         "error": "folds cached without their int8 files: delete the recipe's folder in the "
                                  "cache's cv/ to retrain"}]
            users = users_spec(fold["test_users"])
            _write_fused(model, fusion.fold_params[k])
            out["fused"].append(evaluate(folder, "model", model, users=users, protocol="session")[1])
            out["cosine"].append(evaluate(folder, "model", model, users=users, protocol="session",
                                          score=recipe.score)[1])
            out["dtw-reference"].append(evaluate(folder, "dtw", users=users, protocol="session")[1])
    return [_line(kind, seed, "session", d, s, s) for d, s in out.items()]


def session_learned(kind, seed, recipe, folds, folder, fusion) -> list[dict]:
    """The session protocol for a decision with learned local features, part by part: each
    fold's int8 file for the cosine, the edge's DTW, each fold's branch through its own int8
    file (``trainer.local_features.fold_scores``), fused with the parameters chosen on the
    other folds (the arithmetic of ``edge.scores.Fused``; the folds' files hold no branch)."""
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import evaluate
    from trainer.folds import fold_model, users_spec
    from trainer.fusion import by_int_user, dtw_config, fuse, part_scores
    from trainer.local_features import fold_scores, local_config

    cache, out = Cache.at(None), {"fused": [], "cosine": [], "dtw-reference": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            model = fold_model(recipe, fold, Path(tmp) / f"fold{k}", cache)
            if model is None:
                return [{"bench": "fusion", "kind": kind, "seed": seed, "protocol": "session",
                         "error": "folds cached without their int8 files"}]
            users = fold["test_users"]
            cosine = by_int_user(evaluate(folder, "model", model, users=users_spec(users), protocol="session",
                                          score=recipe.score)[1])
            raw = by_int_user(part_scores(folder, users, "dtw", dtw_config(recipe.preprocessing.use_pressure),
                                          protocol="session"))
            learned = fold_scores(recipe, local_config(recipe), users, folder, cache, protocol="session")
            parts = fusion.fold_params[k]["parts"][:3]   # cosine, DTW, learned DTW; the aspects weigh 0
            fused = fuse([cosine, raw, learned], [(p["mean"], p["sd"]) for p in parts], [p["weight"] for p in parts])
            out["fused"].append(fused)
            out["cosine"].append(cosine)
            out["dtw-reference"].append(evaluate(folder, "dtw", users=users_spec(users), protocol="session")[1])
    return [_line(kind, seed, "session", d, s, s) for d, s in out.items()]


def _write_fused(model_dir: Path, params: dict) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["decision"] = {"score": "fused", "threshold": 0.0, "params": params}
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


def over_seeds(lines: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(ln["kind"], ln["protocol"], ln["decision"]) for ln in lines if "decision" in ln})
    for kind, protocol, decision in keys:
        rows = [ln for ln in lines if (ln.get("kind"), ln.get("protocol"), ln.get("decision"))
                == (kind, protocol, decision)]
        summary = {where: {m: {"mean": round(float(np.mean([r[where][m]["mean"] if where == "folds"
                                                            else r[where][m] for r in rows])), 2),
                               "spread": round(float(np.ptp([r[where][m]["mean"] if where == "folds"
                                                            else r[where][m] for r in rows])), 2)}
                           for m in METRICS} for where in ("folds", "pooled")}
        out.append({"bench": "fusion", "kind": kind, "protocol": protocol, "decision": decision,
                    "summary": f"{len(rows)} seeds", "seeds": [r["seed"] for r in rows], **summary})
    return out


def calibrated(kind: str, seed: int, root: Path):
    """(recipe, its cached folds, the fused decision calibrated on them, the data folder)
    of one pad kind and seed: computed once, both protocols (and bench_adaptation) use it.
    A recipe with learned local features has their DTW in its decision, as shipped."""
    from bench.bench_accuracy import recipe_for
    from trainer.cache import Cache
    from trainer.folds import cross_validate
    from trainer.fusion import calibrate, dtw_config
    from trainer.local_features import learned_part
    from trainer.pipeline import stderr_log

    method, task, pressure = KINDS[kind]
    ns = argparse.Namespace(seed=seed, epochs=None, synthetic=2000, synthetic_epochs=6)
    recipe = recipe_for(method, root, ns)
    cache = Cache.at(None)
    folds = cross_validate(recipe, list(range(1, 31)), cache, log=stderr_log)
    return recipe, folds, calibrate(folds, root / task, recipe.score, dtw_config(pressure), alternatives=True,
                                    learned=learned_part(recipe, folds, root / task, cache)), root / task


def printed(lines, kept: list[dict]) -> None:
    """Print each line as JSON as it comes, and keep it."""
    for ln in lines:
        print(json.dumps(ln), flush=True)
        kept.append(ln)


def kind_seed_parser(doc: str) -> argparse.ArgumentParser:
    """The options of a benchmark over pad kinds and seeds of the cached folds."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0], allow_abbrev=False)
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task1/, Task2/)")
    p.add_argument("--kinds", nargs="*", default=list(DEFAULT_KINDS), choices=list(KINDS))
    p.add_argument("--seeds", nargs="*", type=int, default=[0])
    return p


def over_kinds_and_seeds(doc: str, argv: list[str] | None, run, over_seeds=None) -> int:
    """The main of a benchmark over pad kinds and seeds of the cached folds: the lines of
    ``run(kind, seed, root)`` (a list, or one line) printed as they come, then ``over_seeds`` of them all."""
    from firmware_bridge import svc2004
    from trainer.training_loop import configure_threads

    args = kind_seed_parser(doc).parse_args(argv)
    root = (args.data or svc2004.default_data_root()).resolve()
    configure_threads()
    lines: list[dict] = []
    for kind in args.kinds:
        for seed in args.seeds:
            got = run(kind, seed, root)
            printed(got if isinstance(got, list) else [got], lines)
    if over_seeds is not None:
        printed(over_seeds(lines), [])
    return 0


def main(argv: list[str] | None = None) -> int:
    from firmware_bridge import svc2004
    from trainer.training_loop import configure_threads

    p = kind_seed_parser(__doc__)
    p.add_argument("--protocols", nargs="*", default=["random-refs", "session"], choices=["random-refs", "session"])
    args = p.parse_args(argv)
    root = (args.data or svc2004.default_data_root()).resolve()
    configure_threads()
    lines = []
    for kind in args.kinds:
        for seed in args.seeds:
            recipe, folds, fusion, folder = calibrated(kind, seed, root)
            for protocol in args.protocols:
                run = random_refs if protocol == "random-refs" else session
                printed(run(kind, seed, recipe, folds, folder, fusion), lines)
    printed(over_seeds(lines), [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
