"""The alternatives of issue #12 beside the shipped recipes, measured as bench_fusion measures them.

* ``*-dtwteacher``: DTW in the distillation's teacher (``trainer.dtw_teacher``,
  ``fit --distill-dtw 0.5``): the question is whether a template of embeddings
  alone (the ``cosine`` rows) gets closer to the fused decision.
* ``*-variants``: synthetic variants of each fold's 24 training writers
  (``trainer.variants``, ``fit --variants 5``) in training.

Under the random-refs protocol only, unless ``--protocols`` says otherwise.
Both settings were fixed before any run (``bench.bench_accuracy``:
``DTW_TEACHER``, ``VARIANTS``); every fused figure is nested as in
bench_fusion (weights and constants from the other folds). Compare the rows
with bench_fusion's ``pressure`` and ``no_pressure`` rows of the same seeds.
Training the folds takes about 3 (pressure) to 6 (no pressure) minutes per
kind and seed on 2 cores; cached folds are reused.

    python -m bench.bench_alternatives --seeds 0 1 2
"""

from __future__ import annotations

import sys

from bench import bench_fusion

ALTERNATIVES = ("pressure-dtwteacher", "no_pressure-dtwteacher", "pressure-variants", "no_pressure-variants")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--kinds" not in argv:
        argv += ["--kinds", *ALTERNATIVES]
    if "--protocols" not in argv:  # the alternatives are compared where the choice is made
        argv += ["--protocols", "random-refs"]
    return bench_fusion.main(argv)


if __name__ == "__main__":
    sys.exit(main())
