"""The alternatives of issue #12 beside the shipped recipes, measured as bench_fusion measures them.

* ``*-dtwteacher``: DTW in the distillation's teacher (``trainer.dtw_teacher``,
  ``fit --distill-dtw 0.5``): the question is whether a template of embeddings
  alone (the ``cosine`` rows) gets closer to the fused decision.
* ``*-variants``: synthetic variants of each fold's 24 training writers
  (``trainer.variants``, ``fit --variants 5``) in training.
* ``*-session``: session-change augmentation (``trainer.session_augment``,
  ``fit --session-augment 1.0``), the training-side remedy for session
  drift beside template adaptation (bench_adaptation); also on the session
  protocol.

Under the random-refs protocol (the session remedies under both).
The settings were fixed before any run (``bench.bench_accuracy``:
``DTW_TEACHER``, ``VARIANTS``, ``SESSION``); every fused figure is nested as in
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
SESSION_REMEDIES = ("pressure-session", "no_pressure-session")  # also judged on the session protocol


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--kinds" in argv:
        return bench_fusion.main(argv)
    # the alternatives are compared where the choice is made; a drift remedy on both protocols
    rc = bench_fusion.main(argv + ["--kinds", *ALTERNATIVES, "--protocols", "random-refs"])
    return rc or bench_fusion.main(argv + ["--kinds", *SESSION_REMEDIES])


if __name__ == "__main__":
    sys.exit(main())
