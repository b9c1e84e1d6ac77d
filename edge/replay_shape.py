"""The replay rule's shape measure: a pen path compared whatever its timing.

A replaying device sends an accepted signature again, re-timed so that no
stream MAC or time-indexed trace matches: resampled, faster, slower, or
unevenly (some stretches faster than others). Whatever the timing, the pen
runs along the same path. So the shape keeps no time at all: the pen-down
path resampled at ``SHAPE_POINTS`` points evenly spaced *along the path*
(by arc length), then centred and scaled to unit RMS radius. Stored: int16
coordinates in 1/4096 radii, ``SHAPE_BYTES`` (516) bytes a shape.

Two shapes are compared point by point: the attempt's points are fitted to
the stored ones at the same arc position by a similarity (rotation, scale,
shift), then three point-to-line steps slide them onto the stored polyline
near their nearest stored point, searched within ``_WINDOW`` points of
their arc position (a replay decimated or
cutting corners has a slightly shorter path, so arc positions drift a
little). The distance is the median distance of the points to the path, in
RMS radii. A fit that had to shrink or grow the attempt by more than 10 % is
no match.

Pressure along the path was tried and left out: SVC2004's pressure is noisy
from sample to sample, so a replay resampled at other instants differs in
pressure about as much as a second genuine signature does (added to the
distance with a weight of 0.25, 0.5 or 1 radius per mean pressure, the
nearest genuine pair of Task2 fell below the farthest disguise).

``SHAPE_LIMIT`` was chosen on genuine signatures only (``bench/bench_replay.py``,
SVC2004 users 1-30, Task1 and Task2: the nearest of the 11 400 pairs of two
genuine signatures of one writer: 0.00845), at about 5/6 of it; the
disguised replays were measured afterwards, never used to place it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

F64 = npt.NDArray[np.float64]
Floats = npt.NDArray[np.floating[Any]]     # float64, or the float32 the comparison runs in
Ints = npt.NDArray[np.intp]

SHAPE_POINTS = 128
SHAPE_LIMIT = 0.007
"""Median distance at or below which two shapes are one path: a replay."""
SHAPE_BYTES = 4 + 4 * SHAPE_POINTS

_WINDOW = 10           # stored points each side of the arc position searched
_REFINEMENTS = 3       # point-to-line steps
_PREFILTER = 0.4       # residual at the same arc positions beyond which a shape is another path
                       # (SVC2004: disguised replays <= 0.21, other writers mostly > 0.5)
_COARSE_STEP = 4       # every 4th point first; only shapes near enough on them get all points
_SCALE_TOLERANCE = 0.1  # |log scale| of the fit
_QUANT = 4096.0
_FORMAT = b"S1"


@dataclass(frozen=True, eq=False)
class Shape:
    """A pen-down path by arc length: ``points`` (n, 2), unit RMS radius."""

    points: F64

    def to_bytes(self) -> bytes:
        q = np.clip(np.round(self.points * _QUANT), -32767, 32767).astype("<i2")
        return _FORMAT + struct.pack("<H", len(q)) + q.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Shape:
        if data[:2] != _FORMAT or len(data) < 4:
            raise ValueError("not a stored shape")
        (n,) = struct.unpack_from("<H", data, 2)
        if n < 2 or len(data) != 4 + 4 * n:
            raise ValueError("stored shape of the wrong length")
        return cls(np.frombuffer(data, "<i2", 2 * n, 4).reshape(n, 2) / _QUANT)


def shape(sig: Signature, n: int = SHAPE_POINTS) -> Shape | None:
    """The pen-down path of ``sig`` by arc length (None when it has no extent)."""
    down = np.asarray(sig.pen_down, dtype=bool)
    p = np.column_stack([sig.x[down], sig.y[down]]).astype(np.float64)
    step = np.linalg.norm(np.diff(p, axis=0), axis=1)
    moved = np.r_[True, step > 0]               # a pen resting in place adds no path
    arc = np.r_[0.0, np.cumsum(step)][moved]
    if len(arc) < 2:
        return None
    at = np.linspace(0.0, arc[-1], n)
    points = np.column_stack([np.interp(at, arc, p[moved, 0]), np.interp(at, arc, p[moved, 1])])
    # centred and scaled on the resampled points: samples crowd where the pen was slow
    points -= points.mean(axis=0)
    points /= np.sqrt((points ** 2).sum(axis=1).mean())
    return Shape(points)


def shape_distances(test: Shape, stored: Sequence[Shape], within: float = np.inf) -> F64:
    """How far ``test`` lies from each stored shape (median; inf: no match).

    A stored shape whose points at the same arc positions stay farther than
    ``_PREFILTER`` after the similarity fit is another path (inf). Then every
    ``_COARSE_STEP``-th point is compared; a stored shape farther than
    ``within`` on them keeps that coarse distance, the rest are compared on
    all points (``within=inf``: all on all points).
    """
    out = np.full(len(stored), np.inf)
    usable = [k for k, s in enumerate(stored) if len(s.points) >= 2]
    if not usable or len(test.points) < 2:
        return out
    n = len(test.points)
    # float32: the shapes are int16 in 1/4096 radii, far above its precision, and it is 1/5 faster
    paths = np.stack([_resampled(stored[k].points, n) for k in usable]).astype(np.float32)
    points = test.points.astype(np.float32)
    fitted = similarity_fit(np.broadcast_to(points, paths.shape), paths)
    dist = np.full(len(usable), np.inf)
    candidates = np.flatnonzero(row_median(np.linalg.norm(fitted - paths, axis=-1)) <= _PREFILTER)
    if np.isfinite(within) and len(candidates):
        dist[candidates] = _distances(points, paths[candidates], np.arange(0, n, _COARSE_STEP))
        candidates = candidates[dist[candidates] <= within]
    if len(candidates):
        dist[candidates] = _distances(points, paths[candidates], np.arange(n))
    out[np.asarray(usable)] = dist
    return out


def _resampled(points: F64, n: int) -> F64:
    """``points`` at ``n`` evenly spaced positions (a shape stored with another length)."""
    if len(points) == n:
        return points
    at, xp = np.linspace(0, 1, n), np.linspace(0, 1, len(points))
    return np.column_stack([np.interp(at, xp, points[:, 0]), np.interp(at, xp, points[:, 1])])


def _distances(test: Floats, paths: Floats, idx: Ints) -> Floats:
    """Fit the ``test`` points ``idx`` to each path, slide them onto it; the median distance.

    Each point is projected onto the stored segments within ``_WINDOW``
    points of its arc position (x and y apart: numpy is slow at reducing a
    length-2 axis).
    """
    n = paths.shape[1]
    rows = np.arange(len(paths))[:, None, None]
    q0 = test[idx]
    q = similarity_fit(np.broadcast_to(q0, (len(paths),) + q0.shape), paths[:, idx])
    seg = np.clip(idx[:, None] + np.arange(-_WINDOW, _WINDOW), 0, n - 2)[None]    # (1, points, segments)
    for step in range(_REFINEMENTS + 1):
        ax, ay = paths[..., 0][rows, seg], paths[..., 1][rows, seg]          # (H, points, segments)
        bx, by = paths[..., 0][rows, seg + 1] - ax, paths[..., 1][rows, seg + 1] - ay
        qx, qy = q[..., 0, None], q[..., 1, None]
        u = (((qx - ax) * bx + (qy - ay) * by) / np.maximum(bx * bx + by * by, 1e-18)).clip(0, 1)
        cx, cy = ax + u * bx, ay + u * by                                     # closest point on each
        d2 = (qx - cx) ** 2 + (qy - cy) ** 2
        k = d2.argmin(-1)[..., None]
        d = np.sqrt(np.take_along_axis(d2, k, -1)[..., 0])
        if step == _REFINEMENTS:
            break
        tangent = np.stack([np.take_along_axis(bx, k, -1)[..., 0], np.take_along_axis(by, k, -1)[..., 0]], -1)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-12)
        normal = np.stack([-tangent[..., 1], tangent[..., 0]], -1)
        closest = np.stack([np.take_along_axis(cx, k, -1)[..., 0], np.take_along_axis(cy, k, -1)[..., 0]], -1)
        inliers = d <= 2 * row_median(d)[:, None] + 1e-12
        q = point_to_line_step(q, closest, normal, inliers)
    scale = spread(q) / max(float(spread(q0)), 1e-12)
    out: Floats = np.where(np.abs(np.log(np.maximum(scale, 1e-12))) <= _SCALE_TOLERANCE, row_median(d), np.inf)
    return out


# --- the geometry both path measures use ------------------------------------------------

def pick(arr: Floats, k: Ints) -> Floats:
    """The segment ``k`` picked of each point's (H, points, 2W, 2) candidates."""
    picked: Floats = np.take_along_axis(arr, k[..., None].repeat(2, -1), 2)[:, :, 0]
    return picked


def spread(z: Floats) -> Floats:
    """The root of the summed squared distances of each row's points from their mean."""
    s: Floats = np.sqrt(((z - z.mean(-2, keepdims=True)) ** 2).sum((-2, -1)))
    return s


def row_median(rows: Floats) -> Floats:
    """Median of each row (np.median's first call imports for 13 ms: a verify's whole budget)."""
    s = np.sort(rows, axis=-1)
    n = s.shape[-1]
    median: Floats = 0.5 * (s[..., (n - 1) // 2] + s[..., n // 2])
    return median


def similarity_fit(x: Floats, y: Floats) -> Floats:
    """``x`` moved by the rotation, scale and shift that best map it onto ``y`` (per row)."""
    mx, my = x.mean(1, keepdims=True), y.mean(1, keepdims=True)
    xc, yc = x - mx, y - my
    den = np.maximum((xc ** 2).sum((1, 2)), 1e-18)
    c = (xc * yc).sum((1, 2)) / den                                   # scale * cos
    s = (xc[..., 0] * yc[..., 1] - xc[..., 1] * yc[..., 0]).sum(1) / den   # scale * sin
    moved: Floats = turn(xc, c[:, None], s[:, None]) + my
    return moved


def turn(p: Floats, c: Floats, s: Floats) -> Floats:
    turned: Floats = np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], -1)
    return turned


def point_to_line_step(q: Floats, target: Floats, normal: Floats, inliers: npt.NDArray[np.bool_]) -> Floats:
    """One Gauss-Newton step: the similarity that puts the inliers on their lines."""
    x, y = q[..., 0], q[..., 1]
    nx, ny = normal[..., 0], normal[..., 1]
    jac = np.stack([nx * x + ny * y, ny * x - nx * y, nx, ny], -1) * inliers[..., None]
    rhs = (normal * target).sum(-1) * inliers
    normal_eq = np.einsum("hni,hnj->hij", jac, jac) + 1e-12 * np.eye(4)
    c, s, tx, ty = np.linalg.solve(normal_eq, np.einsum("hni,hn->hi", jac, rhs)[..., None])[..., 0].T
    moved: Floats = turn(q, c[:, None], s[:, None]) + np.stack([tx, ty], -1)[:, None, :]
    return moved
