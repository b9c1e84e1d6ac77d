"""How much a signature holds: strokes, pen-down time, path and turning (issue #20, item 4).

A reference that is a dot, a line or one loop matches anything a little
like it, so enrolment refuses it and asks for the full signature
(``refuse_weak``, an ``EnrolmentError`` naming the signature to sign again).
Pure functions on a ``firmware_bridge`` ``Signature``; the measures:

* ``strokes`` - pen-down runs, a pause of over 3 sample periods counting
  as a lift (``Signature.n_strokes``' rule);
* ``pen_down_ms`` - the time the pen spends writing: each stroke's span, summed;
* ``path_ratio`` - the pen-down path length over the signature's size (the
  larger side of its pen-down box): 1 for a straight line, pi for a circle;
* ``turning_rad`` - the sum of absolute direction changes along each stroke,
  on the path resampled every 1/64 of the size, so that the pad's
  quantisation and tremor (steps of a unit or two) do not count as turns:
  about 0 for a line, 2 pi for a circle.

The verdict (``weaknesses``): a signature with at least ``Floors.strokes``
strokes is never too simple; one with fewer is too simple when it is too
short, too straight or turns too little. The floors are set below every real
genuine signature measured (``bench/bench_complexity.py``, docs/edge.md): the
check is there to catch a dot, a line, a loop or one-stroke initials, not to
judge a writer's style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

from .errors import EnrolmentError

RESAMPLE_STEPS = 64
"""Resampling step for the turning, as a fraction of the size: coarser than a pad's jitter."""


@dataclass(frozen=True)
class Floors:
    """The least a signature with few strokes must have (``bench/bench_complexity.py``)."""

    # The real genuine signatures of 1-2 strokes (179 of 1,260) have at least 931 ms,
    # a path 2.37 times their size and 22.6 rad of turning; each floor leaves room below.
    strokes: int = 3              # this many strokes or more: never refused
    pen_down_ms: float = 700.0
    path_ratio: float = 1.2       # a line is 1, a circle pi; separate strokes lower it (gaps count in the size)
    turning_rad: float = 16.0     # about 2.5 turns: a circle is 6.3, two loops 12.6


FLOORS = Floors()


@dataclass(frozen=True)
class Complexity:
    strokes: int
    pen_down_ms: float
    path_ratio: float
    turning_rad: float

    def weaknesses(self, floors: Floors = FLOORS) -> tuple[str, ...]:
        """What is too little, in words; empty when the signature is rich enough."""
        if self.strokes >= floors.strokes:
            return ()
        found = []
        if self.pen_down_ms < floors.pen_down_ms:
            found.append(f"too short ({self.pen_down_ms / 1000:.2f} s of writing)")
        if self.path_ratio < floors.path_ratio:
            found.append(f"too little path ({self.path_ratio:.1f} times its size)")
        if self.turning_rad < floors.turning_rad:
            found.append(f"too little turning ({np.degrees(self.turning_rad):.0f} degrees)")
        return tuple(found)

    def to_dict(self) -> dict[str, float]:
        return {"strokes": self.strokes, "pen_down_ms": round(self.pen_down_ms, 1),
                "path_ratio": round(self.path_ratio, 3), "turning_rad": round(self.turning_rad, 3)}


def strokes(sig: Signature) -> list[npt.NDArray[np.intp]]:
    """The sample indices of each pen-down run (``Signature.n_strokes``' rule)."""
    down = sig.pen_down
    dt = np.diff(sig.t_ms)
    step = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 1.0
    breaks = ~(down[1:] & down[:-1]) | (dt > 3 * step)
    run = np.cumsum(np.concatenate(([True], breaks)))
    return [np.flatnonzero(down & (run == r)) for r in np.unique(run[down])]


def measure(sig: Signature) -> Complexity:
    """The complexity of ``sig`` (valid: at least two distinct pen-down points)."""
    runs = strokes(sig)
    xy = np.column_stack((sig.x, sig.y))
    down = xy[sig.pen_down]
    size = float(max(np.ptp(down[:, 0]), np.ptp(down[:, 1])))
    pen_down_ms = float(sum(sig.t_ms[r[-1]] - sig.t_ms[r[0]] for r in runs))
    length = float(sum(np.linalg.norm(np.diff(xy[r], axis=0), axis=1).sum() for r in runs))
    turning = float(sum(_turning(xy[r], size / RESAMPLE_STEPS) for r in runs))
    return Complexity(len(runs), pen_down_ms, length / size, turning)


def _turning(points: npt.NDArray[np.float64], step: float) -> float:
    """Sum of absolute direction changes along one stroke, resampled every ``step`` of path."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate(([0.0], np.cumsum(seg)))
    if along[-1] < 2 * step:
        return 0.0          # a tap or a short tick: no direction to speak of
    at = np.arange(0.0, along[-1], step)
    path = np.column_stack((np.interp(at, along, points[:, 0]), np.interp(at, along, points[:, 1])))
    heading = np.unwrap(np.arctan2(*np.diff(path, axis=0).T[::-1]))
    return float(np.abs(np.diff(heading)).sum())


def refuse_weak(sigs: list[Signature], floors: Floors = FLOORS) -> None:
    """``EnrolmentError`` naming every enrolment signature too simple to be a reference."""
    weak = {i: w for i, s in enumerate(sigs) if (w := measure(s).weaknesses(floors))}
    if weak:
        which = "; ".join(f"#{i + 1}: {', '.join(w)}" for i, w in weak.items())
        raise EnrolmentError(f"signature {which} - too simple to tell you from anyone: "
                             "sign your full signature again", list(weak))
