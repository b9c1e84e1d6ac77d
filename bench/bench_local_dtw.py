"""Learned local features for the DTW (``trainer.local_features``) over the five user folds.

For each pad kind and seed, each fold k of the shipped recipe's cross-validation
(cached in the cache's cv/) gives the cosine of its int8 model and the device's
raw DTW on its six held-out users; this benchmark trains the local-feature
branch on fold k's 24 TRAINING users only (real signatures of the recipe's
data folders, the recipe's seed) and scores the same trials with the DTW of
the learned sequences, through the branch's own int8 file
(``trainer.local_features.fold_scores``). Decisions, every weight chosen on the OTHER
folds (``trainer.fusion.nested``):

* ``fused`` - the shipped decision: cosine + raw DTW;
* ``local-dtw`` - the learned sequences' DTW alone;
* ``dtw+local`` - raw DTW + learned DTW (no cosine);
* ``fused+local`` - cosine + raw DTW + learned DTW (weights on a 0.1 simplex);
* ``fused+local-tied`` - the same, the two DTWs sharing the DTW's weight
  equally (``trainer.fusion.tied_dtw_weights``: 11 choices, as the shipped
  decision has, instead of 66). Defined after ``fused+local``'s seed-by-seed
  figures were seen, before its own run.

For the pressure kind the shipped recipe's branch is scored too (``blind``:
``trainer.recipe.PRESSURE_BLIND_LOCAL``, the pressure-free recipe's branch of
the same fold and seed, trained on both tasks' training users and fed the
input without its pressure channel): ``blind-dtw``, ``fused+blind`` and
``fused+blind-tied``. It was defined after the branch with pressure had
failed the rule on these folds (docs/training.md), with ``fused+blind-tied``
named in advance as the candidate; ``fused+blind`` was run beside it.

The branch's configuration (``LocalConfig``'s defaults) was fixed before any
fold was scored and is not tuned here.

    python -m bench.bench_local_dtw --data ../shared/data/svc2004 --seeds 0 1 2

One JSON line per (kind, seed, decision) and one per (kind, decision) over seeds;
each fold's learned scores are cached in the cache's local/. ``--validate``
trains on all 30 users and compares configurations on SigComp2009 (float
features rounded as stored), where ``LocalConfig`` was chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np


def run(kind: str, seed: int, root: Path, cfg) -> list[dict]:
    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS, _line
    from edge.feature_scores import Dtw
    from trainer.cache import Cache
    from trainer.folds import cross_validate
    from trainer.fusion import components, dtw_config, nested, tied_dtw_weights
    from trainer.local_features import fold_scores, local_config
    from trainer.pipeline import stderr_log

    method, task, pressure = KINDS[kind]
    ns = argparse.Namespace(seed=seed, epochs=None, synthetic=2000, synthetic_epochs=6)
    recipe = recipe_for(method, root, ns)
    cache = Cache.at(None)
    folds = cross_validate(recipe, list(range(1, 31)), cache, log=stderr_log)
    folder = root / task
    cosine, raw = components(folds, folder, (recipe.score, Dtw.name), dtw_config(pressure))
    configs = {"local": dataclasses.replace(cfg, seed=seed)}
    if recipe.local is not None and not recipe.local.pressure and pressure:
        configs["blind"] = local_config(recipe)   # the pressure-free recipe's branch, without pressure
    decisions = {"fused": nested([cosine, raw])}
    lines = []
    for name, branch in configs.items():
        local = [fold_scores(recipe, branch, f["test_users"], folder, cache) for f in folds]
        lines.append(_line(kind, seed, "random-refs", f"{name}-dtw", local, local, local_config=branch.to_dict()))
        if name == "local":
            decisions["dtw+local"] = nested([raw, local])
        decisions[f"fused+{name}"] = nested([cosine, raw, local], shape=3)
        decisions[f"fused+{name}-tied"] = nested([cosine, raw, local], shape=tied_dtw_weights())
    for name, (fused, weights, _) in decisions.items():
        lines.append(_line(kind, seed, "random-refs", name, fused, fused, weights=[list(w) for w in weights]))
    return lines


def main(argv=None) -> int:
    from bench.bench_fusion import DEFAULT_KINDS, over_seeds
    from trainer.local_features import LocalConfig
    from trainer.training_loop import configure_threads

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--data", type=Path, default=Path("../shared/data/svc2004"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--kinds", nargs="+", default=list(DEFAULT_KINDS))
    p.add_argument("--validate", action="store_true",
                   help="compare the VARIANTS on SigComp2009 instead (no reported fold looked at)")
    p.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), help="with --validate: only these")
    args = p.parse_args(argv)
    configure_threads()
    if args.validate:
        for kind in args.kinds:
            for line in validate(args.data.resolve(), kind, args.seeds[0], args.variants or tuple(VARIANTS)):
                print(json.dumps(line), flush=True)
        return 0
    lines = []
    for kind in args.kinds:
        for seed in args.seeds:
            for line in run(kind, seed, args.data.resolve(), LocalConfig()):
                print(json.dumps(line), flush=True)
                lines.append(line)
    for line in over_seeds(lines):
        print(json.dumps(line), flush=True)
    return 0



VARIANTS = {"32x8": {"epochs": 8}, "64x4": {"steps": 64, "channels": 4, "band": 16, "epochs": 8},
            "32x8-16epochs": {"epochs": 16}, "32x8-32epochs": {"epochs": 32}}
"""The configurations compared on SigComp2009 (``validate``), each listed before its run:
the first three first (16 epochs won and became ``LocalConfig``'s default), then 32 epochs."""


def validate(root: Path, kind: str, seed: int = 0, variants=tuple(VARIANTS)) -> list[dict]:
    """Each of ``VARIANTS`` trained on all 30 SVC2004 users of the kind's folders and judged
    on SigComp2009 (other writers, another tablet, real forgers): 3 references of an
    author's 5 genuine signatures (all 10 choices), the other 2 and every forgery tested.
    No reported fold is looked at; the raw device DTW is scored beside for scale."""
    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS
    from edge.dtw import DtwConfig, quantized
    from edge.preprocess import preprocess
    from firmware_bridge import sigcomp2009
    from trainer.data import SigSet, load_svc2004
    from trainer.fusion import dtw_config
    from trainer.local_features import LocalConfig, fit_local, local_sequences
    from trainer.towers import WRITER_OFFSET

    method, _, pressure = KINDS[kind]
    recipe = recipe_for(method, root, argparse.Namespace(seed=seed, epochs=None, synthetic=2000, synthetic_epochs=6))
    data = SigSet.concat(load_svc2004(d, None, recipe.preprocessing, WRITER_OFFSET * k)
                         for k, d in enumerate(recipe.data))
    skipped: list[str] = []
    sigs = list(sigcomp2009.read_archive(sigcomp2009.default_archive(), skipped))
    x = np.stack([preprocess(s, recipe.preprocessing) for _, s in sigs])
    raw_cfg = dtw_config(pressure)
    out = [_sigcomp_line(kind, "device-dtw", sigs, np.stack([quantized(s, raw_cfg) for _, s in sigs]), raw_cfg)]
    for name in variants:
        change = VARIANTS[name]
        cfg = dataclasses.replace(LocalConfig(seed=seed), **change)
        branch, _ = fit_local(data, cfg)
        seqs = local_sequences(branch, x, cfg)
        out.append(_sigcomp_line(kind, name, sigs, seqs, DtwConfig(points=cfg.steps, band=cfg.band,
                                                                   pressure=pressure)))
    return out


def _sigcomp_line(kind: str, name: str, sigs: list, seqs: np.ndarray, cfg) -> dict:
    import itertools

    from edge.dtw import dtw_score, spread
    from trainer.evaluation.evaluate import summarise

    scores: dict = {"genuine": {}, "skilled": {}, "random": {}}
    for author in sorted({ids.author for ids, _ in sigs}):
        gen = [i for i, (ids, _) in enumerate(sigs) if ids.author == author and ids.genuine]
        forged = [i for i, (ids, _) in enumerate(sigs) if ids.author == author and not ids.genuine]
        others = [i for i, (ids, _) in enumerate(sigs) if ids.author != author and ids.genuine]
        for refs in itertools.combinations(gen, 3):
            r = seqs[list(refs)]
            s = spread(r, cfg.band)
            for kind_, tests in (("genuine", [g for g in gen if g not in refs]), ("skilled", forged),
                                 ("random", others)):
                scores[kind_].setdefault(author, []).extend(dtw_score(seqs[t], r, s, cfg.band) for t in tests)
    return {"bench": "local-dtw-validation", "kind": kind, "decision": name, "data": "sigcomp2009",
            **{m: summarise(scores)[m] for m in ("eer_skilled", "eer_skilled_per_writer", "eer_random")}}


if __name__ == "__main__":
    sys.exit(main())
