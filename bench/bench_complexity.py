"""How complex real genuine signatures are, against the floors enrolment refuses below.

    python -m bench.bench_complexity [--data ../shared/data/svc2004] [--sigcomp ARCHIVE]

One JSON line per set of genuine signatures (SVC2004 Task1 and Task2 users
1-30, S1-S20; SigComp2009 training genuine, 12 authors x 5): each measure's
minimum, 1st and 5th percentiles and median (``edge.complexity``), how many
fall below each floor (``below``: a floor alone refuses nothing; the
verdict refuses only a signature with fewer strokes than the strokes floor
and some other measure below its floor), how many the verdict refuses, and
the least complex few. The floors in ``edge.complexity.FLOORS`` are chosen so
that no signature here is refused (docs/edge.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

MEASURES = ("strokes", "pen_down_ms", "path_ratio", "turning_rad")


def svc2004_genuine(task_dir: Path) -> Iterable[tuple[str, Any]]:
    from firmware_bridge import svc2004
    for user, files in svc2004.scan(task_dir).items():
        if user <= 30:
            for n, path in sorted(files.genuine.items()):
                yield f"U{user}S{n}", svc2004.read(path)


def sigcomp_genuine(archive: Path) -> Iterable[tuple[str, Any]]:
    from firmware_bridge import sigcomp2009
    for ids, sig in sigcomp2009.read_archive(archive, skipped=[]):
        if ids.genuine:
            yield f"A{ids.author:03d}S{ids.sample:03d}", sig


def summarise(name: str, sigs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    from edge.complexity import FLOORS, measure
    rows = [(label, measure(sig)) for label, sig in sigs]
    few = [(label, c) for label, c in rows if c.strokes < FLOORS.strokes]
    floors = asdict(FLOORS)
    refused = [label for label, c in rows if c.weaknesses()]
    least = sorted(few, key=lambda r: (r[1].turning_rad, r[1].pen_down_ms))[:5]
    return {"bench": "complexity", "set": name, "signatures": len(rows), "floors": floors,
            "all": _describe([c for _, c in rows], floors), "few_strokes": _describe([c for _, c in few], floors),
            "refused": len(refused), "refused_names": refused,
            "least_complex_few_strokes": [{"name": label, **c.to_dict()} for label, c in least]}


def _describe(found: list[Any], floors: dict[str, float]) -> dict[str, Any]:
    """Each measure's min, 1st and 5th percentiles and median, and how many lie below its floor."""
    if not found:
        return {"count": 0}
    out: dict[str, Any] = {"count": len(found)}
    for m in MEASURES:
        v = np.array([float(getattr(c, m)) for c in found])
        out[m] = {"min": round(float(v.min()), 3), "p1": round(float(np.percentile(v, 1)), 3),
                  "p5": round(float(np.percentile(v, 5)), 3), "median": round(float(np.median(v)), 3),
                  "below_floor": int(np.count_nonzero(v < floors[m]))}
    return out


def main(argv: list[str] | None = None) -> int:
    from firmware_bridge import sigcomp2009, svc2004
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task1/, Task2/)")
    p.add_argument("--sigcomp", type=Path, default=None, help="SigComp2009 nisdcc_online.tar.gz")
    args = p.parse_args(argv)
    root = args.data or svc2004.default_data_root()
    archive = args.sigcomp or sigcomp2009.default_archive()
    for task in ("Task1", "Task2"):
        print(json.dumps(summarise(f"svc2004-{task}", svc2004_genuine(root / task))), flush=True)
    if archive.exists():
        print(json.dumps(summarise("sigcomp2009-train", sigcomp_genuine(archive))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
