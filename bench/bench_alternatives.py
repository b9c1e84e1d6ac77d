"""The alternatives of issue #12 beside the shipped recipes, measured as bench_fusion measures them.

* ``*-previous``: the recipes shipped before this round (the pressure model
  without session-change augmentation, the pressure-free one without writer
  variants): the comparison the rule of docs/training.md made.
* ``*-dtwteacher``: DTW in the distillation's teacher (``trainer.dtw_teacher``,
  ``fit --distill-dtw 0.5``) on the previous recipes: the question is whether
  a template of embeddings alone (the ``cosine`` rows) gets closer to the
  fused decision.
* ``pressure-variants``: synthetic variants of each fold's 24 training
  writers (``trainer.variants``, ``fit --variants 5``), which the
  pressure-free model ships, on the previous pressure recipe.
* ``no_pressure-session``: session-change augmentation
  (``trainer.session_augment``, ``fit --session-augment 1.0``), which the
  pressure model ships, on the previous pressure-free recipe.

Every setting was fixed before its run (``bench.bench_accuracy``:
``DTW_TEACHER``, ``VARIANTS``, ``SESSION``); every fused figure is nested as
in bench_fusion (weights and constants from the other folds). The previous
recipes and the session remedy under both protocols, the rest under
random-refs. About 12 minutes for three seeds from cached folds on 2 cores;
training what is not cached takes 3 (pressure) to 6 (no pressure) minutes
per kind and seed.

    python -m bench.bench_alternatives --seeds 0 1 2
"""

from __future__ import annotations

import sys

from bench import bench_fusion

RANDOM_REFS_ONLY = ("pressure-dtwteacher", "no_pressure-dtwteacher", "pressure-variants")
BOTH_PROTOCOLS = ("pressure-previous", "no_pressure-previous", "no_pressure-session")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--kinds" in argv:
        return bench_fusion.main(argv)
    rc = bench_fusion.main(argv + ["--kinds", *RANDOM_REFS_ONLY, "--protocols", "random-refs"])
    return rc or bench_fusion.main(argv + ["--kinds", *BOTH_PROTOCOLS])


if __name__ == "__main__":
    sys.exit(main())
