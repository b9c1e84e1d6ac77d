"""The shipped decision read at the device's number of references: threshold, levels and nested figures.

For each pad kind and seed, the fused decision calibrated on the cached folds
(``bench.bench_fusion.calibrated``: weights and constants chosen on trials of 5
references) is read at ``edge.settings.Settings().enrol_count`` references as
``make model`` reads it (``trainer.references``): each fold's int8 file and
branch score its held-out writers on trials of that many references, and the
lines give

* ``threshold`` and ``levels`` - the pooled EER point and the operating levels,
  in-sample (what a manifest holds for seed 0's folds);
* ``nested_levels`` - the levels as a device meets them: each fold's rates at
  thresholds read off the other folds with that fold's own weights;
* the nested EERs with ONE pooled threshold, per writer, random and FNMR at FMR 1 %;
* ``session`` - the same nested figures on the session protocol at that count
  (references S1-S<count> of the first session, genuine tests S11-S20 of the
  second): enrolled on one day, verified on another, as a device is used.

    python -m bench.bench_levels --data ../shared/data/svc2004 --seeds 0 1 2
"""

from __future__ import annotations

import sys
from pathlib import Path

METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")


def run(kind: str, seed: int, root: Path) -> dict:
    from bench.bench_fusion import calibrated
    from edge.settings import Settings
    from trainer.cache import Cache
    from trainer.evaluation.evaluate import summarise
    from trainer.fusion import pool
    from trainer.references import at_references, nested_at, part_folds_at

    refs = Settings().enrol_count
    recipe, folds, fusion, folder = calibrated(kind, seed, root)
    read = at_references(fusion, part_folds_at(recipe, folds, folder, fusion.params, Cache.at(None), refs), refs)
    nested = read.report["pooled_at_references"]
    session = summarise(pool(nested_at(fusion, part_folds_at(recipe, folds, folder, fusion.params, Cache.at(None),
                                                             refs, "session"))))
    return {"bench": "levels", "kind": kind, "seed": seed, "references": refs, "threshold": read.threshold,
            "threshold_at_5": fusion.threshold, "levels": read.levels, "nested_levels": read.report["nested_levels"],
            **{m: nested[m] for m in METRICS}, "session": {m: session[m] for m in METRICS}}


def main(argv: list[str] | None = None) -> int:
    from bench.bench_fusion import over_kinds_and_seeds
    return over_kinds_and_seeds(__doc__, argv, run)

if __name__ == "__main__":
    sys.exit(main())
