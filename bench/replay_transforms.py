"""How a replay is disguised: the transforms of issue #14, applied to a recorded signature.

Each takes a ``Signature`` and returns what a replaying device would send:
integer pad units, samples at the pad's own rate. ``bench/bench_replay.py``
measures them on every SVC2004 signature and ``tests/edge/test_replay.py``
checks that each is refused.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge.signature import Signature


def _subset(s: Signature, keep: np.ndarray) -> Signature:
    opt = lambda a: None if a is None else a[keep]  # noqa: E731
    return Signature.create(s.t_ms[keep], s.x[keep], s.y[keep], s.pen_down[keep], opt(s.pressure),
                            source=s.source)


def drop_every_10th(s: Signature) -> Signature:
    keep = np.ones(len(s), bool)
    keep[9::10] = False
    return _subset(s, keep)


def decimate_to_50hz(s: Signature) -> Signature:
    """Keep a sample only when 20 ms have passed since the last one kept."""
    keep = np.zeros(len(s), bool)
    last = -np.inf
    for i, t in enumerate(s.t_ms):
        if t - last >= 19.5:
            keep[i], last = True, t
    return _subset(s, keep)


def stretch_time(s: Signature, factor: float, period_ms: float = 10.0) -> Signature:
    """Time scaled by ``factor``, then resampled every ``period_ms`` within each stroke
    (the pen's path interpolated linearly, rounded to pad units), as a device would send it."""
    t = s.t_ms[0] + (s.t_ms - s.t_ms[0]) * factor
    strokes = np.split(np.arange(len(s)), np.flatnonzero(np.diff(t) > 3 * period_ms * factor) + 1)
    parts = []
    for idx in strokes:
        if len(idx) < 2:
            continue
        grid = np.arange(t[idx[0]], t[idx[-1]] + 1e-9, period_ms)
        x, y = (np.interp(grid, t[idx], v[idx]) for v in (s.x, s.y))
        nearest = idx[np.clip(np.searchsorted(t[idx], grid), 0, len(idx) - 1)]
        parts.append((grid, np.round(x), np.round(y), s.pen_down[nearest],
                      None if s.pressure is None else np.interp(grid, t[idx], s.pressure[idx])))
    cat = lambda k: np.concatenate([p[k] for p in parts])  # noqa: E731
    return Signature.create(cat(0), cat(1), cat(2), cat(3), None if s.pressure is None else cat(4),
                            source=s.source)


def rotate(s: Signature, degrees: float) -> Signature:
    a = np.radians(degrees)
    cx, cy = s.x.mean(), s.y.mean()
    x = cx + (s.x - cx) * np.cos(a) - (s.y - cy) * np.sin(a)
    y = cy + (s.x - cx) * np.sin(a) + (s.y - cy) * np.cos(a)
    return Signature.create(s.t_ms, np.round(x), np.round(y), s.pen_down, s.pressure, source=s.source)


TRANSFORMS = {
    "drop every 10th sample": drop_every_10th,
    "decimated to 50 Hz": decimate_to_50hz,
    "time x1.05": lambda s: stretch_time(s, 1.05),
    "time x1.2": lambda s: stretch_time(s, 1.2),
    "rotated 3 degrees": lambda s: rotate(s, 3.0),
}
