"""Forgers, real and synthetic: how a writer's skilled forgeries differ from the writer's own.

Issue #20 item 7 asks for a synthetic forger closer to real ones (forgers
slow down, hesitate, lift the pen more, keep the shape), measured against the
real forgeries there are. This measures the first step: for each writer, the
mean of each global feature (``edge.global_features``: logs of times, speed
and sizes, the square root of the stroke count; pressure left out, so the
pads compare) over the writer's skilled forgeries minus its mean over the
writer's genuine signatures, then the quartiles of that gap over writers:

* ``sigcomp2009`` - SigComp2009's 12 authors and their 1,845 forgeries by 31
  forgers (another tablet, 200 Hz);
* ``svc2004`` - SVC2004 Task2's 30 users, S1-S20 against S21-S40;
* ``synthetic`` - ``firmware_bridge.synthetic``'s writers (the pretraining's
  generator), 20 genuine and 20 forgeries each.

A gap of +0.22 in ``log_pen_down_s`` is forgeries 1.25 times as long with
the pen down. No model is trained or chosen here.

    python -m bench.bench_forgers --data ../shared/data/svc2004 --writers 60
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

QUARTILES = (25, 50, 75)


def gap_quartiles(writers: list[tuple[np.ndarray, np.ndarray]], names: tuple[str, ...]) -> dict:
    """``writers``: (genuine features, forgery features), rows are signatures. Per feature,
    the quartiles over writers of mean(forgeries) - mean(genuine), rounded to 3 places."""
    gaps = np.array([np.mean(forged, axis=0) - np.mean(genuine, axis=0) for genuine, forged in writers])
    return {n: [round(float(np.percentile(gaps[:, i], q)), 3) for q in QUARTILES] for i, n in enumerate(names)}


def features(groups, cfg) -> list[tuple[np.ndarray, np.ndarray]]:
    """(genuine, forgeries) signature lists -> their global features, per writer."""
    from edge.global_features import measure
    return [(np.array([measure(s, cfg) for s in gen]), np.array([measure(s, cfg) for s in forged]))
            for gen, forged in groups]


def sigcomp2009_groups():
    from firmware_bridge import sigcomp2009
    sigs = list(sigcomp2009.read_archive(sigcomp2009.default_archive(), []))
    authors = sorted({ids.author for ids, _ in sigs})
    return [([s for ids, s in sigs if ids.author == a and ids.genuine],
             [s for ids, s in sigs if ids.author == a and not ids.genuine]) for a in authors]


def svc2004_groups(task2: Path):
    from firmware_bridge import svc2004
    return [([svc2004.read(f) for f in files.genuine.values()], [svc2004.read(f) for f in files.forgeries.values()])
            for _, files in sorted(svc2004.scan(task2).items())]


def synthetic_groups(writers: int, per_kind: int = 20):
    from firmware_bridge.synthetic import make_writer
    out = []
    for w in range(writers):
        writer = make_writer(w)
        out.append(([writer.genuine(i) for i in range(per_kind)], [writer.forgery(i) for i in range(per_kind)]))
    return out


def main(argv: list[str] | None = None) -> int:
    from edge.global_features import GlobalConfig
    from firmware_bridge import svc2004

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task2/ inside)")
    p.add_argument("--writers", type=int, default=60, help="synthetic writers")
    args = p.parse_args(argv)
    cfg = GlobalConfig(pressure=False)
    root = (args.data or svc2004.default_data_root()).resolve()
    sets = {"sigcomp2009": sigcomp2009_groups, "svc2004": lambda: svc2004_groups(root / "Task2"),
            "synthetic": lambda: synthetic_groups(args.writers)}
    for name, groups in sets.items():
        rows = features(groups(), cfg)
        print(json.dumps({"bench": "forgers", "set": name, "writers": len(rows), "quartiles": list(QUARTILES),
                          "gap": gap_quartiles(rows, cfg.names)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
