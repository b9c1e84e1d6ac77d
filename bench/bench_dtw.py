"""The DTW reference on whole SVC2004 tasks, as ``sigpad-train evaluate --method dtw`` scores it.

    python -m bench.bench_dtw [--data ../shared/data/svc2004] [--tasks Task2 Task1]

One JSON line per task: the harness's summary (trainer.evaluation.evaluate,
every user of the task, 10 trials, 5 references), the same object
``sigpad-train evaluate --method dtw --data ROOT/TASK --json`` prints. The
5-fold DTW rows of bench_accuracy score the same users fold by fold instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from firmware_bridge import svc2004
    from trainer.evaluation.evaluate import evaluate

    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task1/, Task2/)")
    p.add_argument("--tasks", nargs="+", default=["Task2", "Task1"])
    args = p.parse_args(argv)
    root = args.data or svc2004.default_data_root()
    for task in args.tasks:
        summary, _ = evaluate(root / task, "dtw")
        print(json.dumps({"bench": "dtw", "task": task, **summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
