"""Writer-normalised DTW distances (the SVC2004 winner's way) against the device's, chosen off the reported folds.

The device's DTW score is the mean distance to the references over their mean
distance to each other. Kholmatov & Yanikoglu (SVC2004) normalised three
distances by the reference set's own: the probe's least distance to a
reference over the references' mean least distance to one another, the same
for the greatest, and the distance to the "template" (the reference nearest
all others) over the references' mean distance to it. Their mean (negated)
is the ``kholmatov`` score here; ``min+mean`` averages the normalised least
and mean distances.

1. **Choice** (``--validate``): on SigComp2009 (12 other writers, another
   tablet, 1,845 forgeries by 31 forgers; 3 references of each author's 5,
   all 10 choices, the other 2 and every forgery tested), the normalisation
   with the lowest pooled skilled EER with both pad kinds is chosen. No
   SVC2004 user is looked at.
2. **Figures**: on the five user folds of SVC2004, each normalisation alone
   and fused with each fold's cosine (``trainer.fusion.nested``, as the
   shipped ``fused``) for the given seeds.

    python -m bench.bench_dtw_normalisation --validate
    python -m bench.bench_dtw_normalisation --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from edge.dtw import distances

NORMALISATIONS = ("mean", "kholmatov", "min+mean")
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")


def profile(refs: np.ndarray, band: int) -> dict:
    """What the references say of their own distances: mean, mean least, mean greatest,
    the template (least summed distance to the others) and the mean distance to it."""
    n = len(refs)
    d = np.stack([distances(refs[i], refs, band) for i in range(n)])
    off = ~np.eye(n, dtype=bool)
    t = int(np.argmin(d.sum(axis=1)))
    return {"mean": d[np.triu_indices(n, 1)].mean(), "least": np.where(off, d, np.inf).min(axis=1).mean(),
            "greatest": np.where(off, d, -np.inf).max(axis=1).mean(), "template": t,
            "to_template": d[t][np.arange(n) != t].mean()}


def normalised(d: np.ndarray, p: dict) -> dict[str, float]:
    """The probe's distances ``d`` to the references as each normalisation scores them (higher: more genuine)."""
    return {"mean": -d.mean() / p["mean"],
            "kholmatov": -(d.min() / p["least"] + d.max() / p["greatest"] + d[p["template"]] / p["to_template"]) / 3,
            "min+mean": -(d.min() / p["least"] + d.mean() / p["mean"]) / 2}


class Scorer:
    """``score_trials``' scorer of one normalisation over precomputed device sequences."""

    name = "dtw-normalisation"

    def __init__(self, sequences: dict, band: int, which: str):
        self.seqs, self.band, self.which = sequences, band, which
        self.known: dict = {}  # per reference set: (references, profile)

    def score(self, refs, test) -> float:
        if refs not in self.known:
            r = np.stack([self.seqs[k] for k in refs])
            self.known[refs] = (r, profile(r, self.band))
        r, p = self.known[refs]
        return normalised(distances(self.seqs[test], r, self.band), p)[self.which]


def validate(pressure: bool) -> list[dict]:
    from edge.dtw import quantized
    from firmware_bridge import sigcomp2009
    from trainer.evaluation.evaluate import summarise
    from trainer.fusion import dtw_config

    cfg = dtw_config(pressure)
    sigs = list(sigcomp2009.read_archive(sigcomp2009.default_archive(), []))
    seqs = np.stack([quantized(s, cfg) for _, s in sigs])
    scores: dict = {n: {"genuine": {}, "skilled": {}, "random": {}} for n in NORMALISATIONS}
    for author in sorted({ids.author for ids, _ in sigs}):
        gen = [i for i, (ids, _) in enumerate(sigs) if ids.author == author and ids.genuine]
        tests = {"skilled": [i for i, (ids, _) in enumerate(sigs) if ids.author == author and not ids.genuine],
                 "random": [i for i, (ids, _) in enumerate(sigs) if ids.author != author and ids.genuine]}
        for refs in itertools.combinations(gen, 3):
            r = seqs[list(refs)]
            p = profile(r, cfg.band)
            for kind, ts in {"genuine": [g for g in gen if g not in refs], **tests}.items():
                for t in ts:
                    for name, v in normalised(distances(seqs[t], r, cfg.band), p).items():
                        scores[name][kind].setdefault(author, []).append(v)
    return [{"bench": "dtw-normalisation", "data": "sigcomp2009", "pressure": pressure, "normalisation": n,
             **{m: summarise(s)[m] for m in METRICS}} for n, s in scores.items()]


def folds(root: Path, seeds: list[int]) -> list[dict]:
    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS
    from edge.dtw import quantized
    from firmware_bridge import svc2004
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import load_signatures, score_trials, summarise
    from trainer.evaluation.trials import make_trials
    from trainer.folds import cross_validate, user_folds
    from trainer.fusion import components, dtw_config, nested, pool

    out = []
    for kind in ("pressure", "no_pressure"):
        method, task, pressure = KINDS[kind]
        cfg, folder = dtw_config(pressure), root / task
        parts = {n: [] for n in NORMALISATIONS}
        for users in user_folds():
            index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
            sigs, _ = load_signatures(index)
            seqs = {k: quantized(s, cfg) for k, s in sigs.items()}
            for n in NORMALISATIONS:
                s = score_trials(make_trials(index, trials=10, seed=0), Scorer(seqs, cfg.band, n))
                parts[n].append({k: {u: np.asarray(v) for u, v in d.items()} for k, d in s.items()})
        for n, p in parts.items():
            out.append({"bench": "dtw-normalisation", "kind": kind, "normalisation": n, "decision": "alone",
                        **{m: summarise(pool(p))[m] for m in METRICS}})
        for seed in seeds:
            recipe = recipe_for(method, root, argparse.Namespace(seed=seed, epochs=None, synthetic=2000,
                                                                 synthetic_epochs=6))
            cached = cross_validate(recipe, list(range(1, 31)), Cache.at(None), log=lambda *a: None)
            cosine = components(cached, folder, (recipe.score,), cfg)[0]
            for n, p in parts.items():
                fused, weights, _ = nested([cosine, p])
                out.append({"bench": "dtw-normalisation", "kind": kind, "seed": seed, "normalisation": n,
                            "decision": "fused", "weights": [list(w) for w in weights],
                            **{m: summarise(pool(fused))[m] for m in METRICS}})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--data", type=Path, default=Path("../shared/data/svc2004"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--validate", action="store_true", help="the choice on SigComp2009 instead of the folds")
    args = p.parse_args(argv)
    lines = validate(True) + validate(False) if args.validate else folds(args.data.resolve(), args.seeds)
    for line in lines:
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
