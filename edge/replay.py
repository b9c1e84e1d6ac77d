"""Replay detection: nobody signs the same way twice.

``check`` is the whole rule; the verifier asks it once per attempt, inside
the transaction that records it. Three measures, against the user's
enrolment signatures and the attempts kept in the store:

* the *stream*: an HMAC (keyed from the store key, so the store holds no
  dictionary of signature hashes) of the signature's samples with time made
  relative to the first sample - a byte-identical stream, re-sent with a new
  clock origin, gives the same MAC;
* the *embedding*: a cosine at or above ``replay_cosine`` (0.995) to a stored
  embedding - a near-copy that the model itself cannot tell apart;
* the *trace*, for an attempt that would be accepted: its pen-down path
  against the path of every accepted attempt kept and of every enrolment
  signature. A replay re-sent with samples dropped, decimated, re-timed or
  turned a little still runs along the original path (``trace_distances``);
  a second genuine signature does not. This is the measure that resampling,
  time scaling and small rotations cannot escape.

The trace measure. Both paths are normalised (pen-down points centred, unit
RMS radius; time from first to last pen-down point mapped to 0..1). Up to 96
points of the attempt are matched to the stored path at the same normalised
time and fitted to it by a similarity (rotation, scale, shift); three
point-to-line refinements then slide them onto the stored polyline within a
few segments of that time. The distance is the median distance of the
points to the polyline, in RMS radii; a fit that had to shrink or grow the
attempt by more than 10 % is no match. A replay lies on the original path
(its points are original samples, or interpolated between them), so its
distance is what rounding leaves; on SVC2004 (users 1-30, Task1 and Task2)
the issue's transforms of all 1 200 genuine signatures stay under 0.001,
while the nearest of the 11 400 pairs of one writer's genuine signatures is
at 0.012 (``bench/bench_replay.py``).
``TRACE_LIMIT`` sits between the two. A re-timing that is not uniform (some
strokes faster, others slower) moves points away from their time window and
escapes this measure; such an attempt is judged as any other.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

from .templates import dequantize_many

F64 = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

TRACE_LIMIT = 0.004
"""Median distance (RMS radii) at or below which a trace is a replay."""

TRACE_MAX_POINTS = 4000    # stored per trace (about 40 s at 100 Hz); longer ones are thinned
_TEST_POINTS = 96          # points of the attempt compared
_WINDOW = 4                # stored segments each side of the time-matched one
_REFINEMENTS = 3           # point-to-line steps
_PREFILTER = 0.12          # time-matched residual beyond which a path is no replay (replays: < 0.05)
_SCALE_TOLERANCE = 0.1     # |log scale| of the fit
_QUANT = 4096.0            # stored point coordinates: int16 in 1/4096 RMS radii
_FORMAT = b"T1"


def stream_mac(key: bytes, sig: Signature) -> bytes:
    """HMAC-SHA256 of the signature's samples (time relative to the first sample)."""
    h = hmac.new(key, b"sigpad-stream/1", hashlib.sha256)
    t = np.asarray(sig.t_ms, dtype=np.float64)
    h.update((t - t[0]).tobytes())
    for arr in (sig.x, sig.y, sig.pressure, sig.pen_down):
        if arr is not None:
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        else:
            h.update(b"-")
    return h.digest()


# --- traces -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Trace:
    """A signature's pen-down path, normalised: ``points`` (n, 2) and ``tau`` (n,) in 0..1."""

    points: F64
    tau: F64

    def to_bytes(self) -> bytes:
        q = np.clip(np.round(self.points * _QUANT), -32767, 32767).astype("<i2")
        t = np.round(self.tau * 65535).astype("<u2")
        return _FORMAT + struct.pack("<H", len(t)) + q.tobytes() + t.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Trace:
        if data[:2] != _FORMAT or len(data) < 4:
            raise ValueError("not a stored trace")
        (n,) = struct.unpack_from("<H", data, 2)
        if len(data) != 4 + 6 * n:
            raise ValueError("stored trace of the wrong length")
        points = np.frombuffer(data, "<i2", 2 * n, 4).reshape(n, 2) / _QUANT
        return cls(points, np.frombuffer(data, "<u2", n, 4 + 4 * n) / 65535.0)


def trace(sig: Signature) -> Trace | None:
    """The normalised pen-down path of ``sig`` (None when it has no extent or duration)."""
    down = sig.pen_down
    p = np.column_stack([sig.x[down], sig.y[down]]).astype(np.float64)
    t = np.asarray(sig.t_ms[down], dtype=np.float64)
    if len(p) > TRACE_MAX_POINTS:
        keep = np.linspace(0, len(p) - 1, TRACE_MAX_POINTS).round().astype(int)
        p, t = p[keep], t[keep]
    if len(p) < 2 or t[-1] <= t[0]:
        return None
    p -= p.mean(axis=0)
    radius = np.sqrt((p ** 2).sum(axis=1).mean())
    if not radius > 0:
        return None
    return Trace(p / radius, (t - t[0]) / (t[-1] - t[0]))


def trace_distances(test: Trace, stored: list[Trace]) -> F64:
    """How far ``test`` lies from each stored path (median, RMS radii; inf: no match)."""
    out = np.full(len(stored), np.inf)
    usable = [k for k, s in enumerate(stored) if len(s.tau) >= 2]
    if not usable:
        return out
    idx = np.linspace(0, len(test.tau) - 1, min(_TEST_POINTS, len(test.tau))).round().astype(int)
    q0, tq = test.points[idx], test.tau[idx]
    paths = _Paths.of([stored[k] for k in usable], tq)
    q = _similarity(np.broadcast_to(q0, paths.at_test_times.shape), paths.at_test_times)
    residual = _median(np.linalg.norm(q - paths.at_test_times, axis=-1))
    near = np.flatnonzero(residual <= _PREFILTER)
    if len(near):
        d = _refined(q[near], q0, paths.subset(near))
        out[np.asarray(usable)[near]] = d
    return out


@dataclass(frozen=True, eq=False)
class _Paths:
    """Stored paths padded to one length (``P``), the segments around each test
    time (``seg``) and each path's point at each test time."""

    P: F64
    seg: Ints
    at_test_times: F64

    @classmethod
    def of(cls, traces: list[Trace], tq: F64) -> _Paths:
        n = np.array([len(t.tau) for t in traces])
        m = int(n.max())
        P = np.stack([np.vstack([t.points, np.repeat(t.points[-1:], m - len(t.tau), 0)]) for t in traces])
        T = np.stack([np.r_[t.tau, np.full(m - len(t.tau), np.inf)] for t in traces])
        h = np.arange(len(traces))[:, None]
        j = np.array([np.searchsorted(T[k], tq) for k in range(len(traces))])
        j = np.clip(j, 1, (n - 1)[:, None])                    # segment j-1 -> j holds tq
        t0, t1 = T[h, j - 1], T[h, j]
        w = ((tq[None] - t0) / np.maximum(t1 - t0, 1e-12)).clip(0, 1)[..., None]
        at_test_times = P[h, j - 1] * (1 - w) + P[h, j] * w
        offsets = np.arange(-_WINDOW, _WINDOW)[None, None, :]
        seg = np.minimum(np.clip(j[..., None] + offsets, 0, None), (n - 2)[:, None, None])
        return cls(P, seg, at_test_times)

    def subset(self, rows: Ints) -> _Paths:
        return _Paths(self.P[rows], self.seg[rows], self.at_test_times[rows])


def _refined(q: F64, q0: F64, paths: _Paths) -> F64:
    """Point-to-line refinement onto each path; the median distance after it."""
    h = np.arange(len(q))[:, None, None]
    a, b = paths.P[h, paths.seg], paths.P[h, paths.seg + 1]          # (H, points, 2W, 2)
    ab = b - a
    l2 = np.maximum((ab ** 2).sum(-1), 1e-18)
    for step in range(_REFINEMENTS + 1):
        u = (((q[:, :, None, :] - a) * ab).sum(-1) / l2).clip(0, 1)
        closest = a + u[..., None] * ab
        d2 = ((q[:, :, None, :] - closest) ** 2).sum(-1)
        k = d2.argmin(-1)[..., None]
        d = np.sqrt(np.take_along_axis(d2, k, -1)[..., 0])
        if step == _REFINEMENTS:
            break
        tangent = _pick(ab, k)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-12)
        normal = np.stack([-tangent[..., 1], tangent[..., 0]], -1)
        inliers = d <= 2 * _median(d)[:, None] + 1e-12
        q = _point_to_line(q, _pick(closest, k), normal, inliers)
    scale = _spread(q) / max(float(_spread(q0)), 1e-12)
    out: F64 = np.where(np.abs(np.log(np.maximum(scale, 1e-12))) <= _SCALE_TOLERANCE, _median(d), np.inf)
    return out


def _pick(arr: F64, k: Ints) -> F64:
    """The segment ``k`` picked of each point's (H, points, 2W, 2) candidates."""
    picked: F64 = np.take_along_axis(arr, k[..., None].repeat(2, -1), 2)[:, :, 0]
    return picked


def _spread(z: F64) -> F64:
    """The root of the summed squared distances of each row's points from their mean."""
    spread: F64 = np.sqrt(((z - z.mean(-2, keepdims=True)) ** 2).sum((-2, -1)))
    return spread


def _median(rows: F64) -> F64:
    """Median of each row (np.median's first call imports for 13 ms: a verify's whole budget)."""
    s = np.sort(rows, axis=-1)
    n = s.shape[-1]
    median: F64 = 0.5 * (s[..., (n - 1) // 2] + s[..., n // 2])
    return median


def _similarity(x: F64, y: F64) -> F64:
    """``x`` moved by the rotation, scale and shift that best map it onto ``y`` (per row)."""
    mx, my = x.mean(1, keepdims=True), y.mean(1, keepdims=True)
    xc, yc = x - mx, y - my
    den = np.maximum((xc ** 2).sum((1, 2)), 1e-18)
    c = (xc * yc).sum((1, 2)) / den                                   # scale * cos
    s = (xc[..., 0] * yc[..., 1] - xc[..., 1] * yc[..., 0]).sum(1) / den   # scale * sin
    moved: F64 = _turn(xc, c[:, None], s[:, None]) + my
    return moved


def _turn(p: F64, c: F64, s: F64) -> F64:
    return np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], -1)


def _point_to_line(q: F64, target: F64, normal: F64, inliers: npt.NDArray[np.bool_]) -> F64:
    """One Gauss-Newton step: the similarity that puts the inliers on their lines."""
    x, y = q[..., 0], q[..., 1]
    nx, ny = normal[..., 0], normal[..., 1]
    jac = np.stack([nx * x + ny * y, ny * x - nx * y, nx, ny], -1) * inliers[..., None]
    rhs = (normal * target).sum(-1) * inliers
    normal_eq = np.einsum("hni,hnj->hij", jac, jac) + 1e-12 * np.eye(4)
    c, s, tx, ty = np.linalg.solve(normal_eq, np.einsum("hni,hn->hi", jac, rhs)[..., None])[..., 0].T
    moved: F64 = _turn(q, c[:, None], s[:, None]) + np.stack([tx, ty], -1)[:, None, :]
    return moved


# --- the rule --------------------------------------------------------------------------

def closest(embedding: npt.NDArray[np.floating], stored: npt.NDArray[np.floating]) -> float:
    """Highest cosine of a unit embedding to stored unit rows (-1 when none)."""
    if len(stored) == 0:
        return -1.0
    return float(np.max(stored @ embedding))


class Kept(Protocol):
    """An attempt kept in a user's history (``edge.store.Attempt``), as the rule reads it."""

    @property
    def stream_mac(self) -> bytes: ...
    @property
    def embedding(self) -> bytes: ...      # int8; b"" for an enrolment entry
    @property
    def trace(self) -> bytes | None: ...


def check(mac: bytes, test: npt.NDArray[np.floating], refs: npt.NDArray[np.floating],
          enrol_macs: Collection[bytes], attempts: Sequence[Kept], cosine_limit: float, path: Trace | None = None,
          trace_limit: float = TRACE_LIMIT) -> str | None:
    """Why this attempt is a replay, or None.

    ``mac``: the attempt's stream MAC; ``test``: its embedding as it will be
    stored (the dequantized int8 template); ``refs`` and ``enrol_macs``: the
    user's dequantized templates and their streams' MACs; ``attempts``: the
    user's kept attempts (``Store`` history: enrolment traces included).
    ``path``: the attempt's ``trace``, given when it would be accepted.
    """
    if mac in enrol_macs or any(a.stream_mac == mac for a in attempts):
        return "byte-identical to an earlier signature: replayed stream"
    stored = refs
    embeddings = [a.embedding for a in attempts if a.embedding]   # enrolment entries have none
    if embeddings:
        stored = np.vstack([refs, dequantize_many(embeddings, len(test))])
    near = closest(test, stored)
    if near >= cosine_limit:
        return f"embedding practically identical (cosine {near:.4f}) to an earlier signature: replay"
    if path is not None:
        paths = [Trace.from_bytes(a.trace) for a in attempts if a.trace]
        if paths:
            d = float(trace_distances(path, paths).min())
            if d <= trace_limit:
                return f"runs along an earlier signature's path (distance {d:.4f}): replay"
    return None
