"""Replay detection: nobody signs the same way twice.

``judge`` is the whole rule (``check``: its verdict alone); the verifier
asks it once per attempt, inside the transaction that records it. Three
measures, against the user's enrolment signatures and the attempts kept in
the store:

* the *stream*: an HMAC (keyed from the store key, so the store holds no
  dictionary of signature hashes) of the signature's samples with time made
  relative to the first sample - a byte-identical stream, re-sent with a new
  clock origin, gives the same MAC;
* the *embedding*: a cosine at or above ``replay_cosine`` (0.995) to a stored
  embedding - a near-copy that the model itself cannot tell apart;
* the *path*, for an attempt that would be accepted: its *shape* (the
  pen-down path by arc length, ``edge.replay_shape``) against the shape of
  every accepted attempt kept and of every enrolment signature. A replay
  re-sent with samples dropped, decimated, re-timed - uniformly or unevenly,
  some stretches faster than others - or turned a little still runs along
  the original path; a second genuine signature does not. Attempts kept
  before shapes were (their rows hold a timed *trace*) are compared by the
  trace measure below instead; new rows keep only the shape.

An attempt whose path comes within ``REPLAY_LIKE`` (1.5) times a limit of a
kept one is accepted if it scores, but never adapts a reference
(``Finding.replay_like``): a near-replay must not become a template.

The timed trace measure (rows from before the shape). Both paths are
normalised (pen-down points centred, unit RMS radius; time from first to
last pen-down point mapped to 0..1). Up to 96 points of the attempt are
matched to the stored path at the same normalised time and fitted to it by
a similarity, then slid onto the stored polyline within a few segments of
that time (``trace_distances``). A replay re-timed unevenly escapes it: the
reason shapes replaced traces (issue #23).
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

from .replay_shape import (
    SHAPE_LIMIT,
    Floats,
    Shape,
    pick,
    point_to_line_step,
    row_median,
    shape,
    shape_distances,
    similarity_fit,
    spread,
)
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
    q = similarity_fit(np.broadcast_to(q0, paths.at_test_times.shape), paths.at_test_times)
    residual = row_median(np.linalg.norm(q - paths.at_test_times, axis=-1))
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


def _refined(q: Floats, q0: F64, paths: _Paths) -> F64:
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
        tangent = pick(ab, k)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-12)
        normal = np.stack([-tangent[..., 1], tangent[..., 0]], -1)
        inliers = d <= 2 * row_median(d)[:, None] + 1e-12
        q = point_to_line_step(q, pick(closest, k), normal, inliers)
    scale = spread(q) / max(float(spread(q0)), 1e-12)
    out: F64 = np.where(np.abs(np.log(np.maximum(scale, 1e-12))) <= _SCALE_TOLERANCE, row_median(d), np.inf)
    return out


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
    def trace(self) -> bytes | None: ...   # its shape (``Shape``), or a timed trace stored before


@dataclass(frozen=True, eq=False)
class Path:
    """An attempt's pen path as the rule compares it: its ``shape`` (what is kept
    of an accepted attempt) and its timed ``trace`` (only to compare with attempts
    kept before shapes were, whose rows hold a ``Trace``)."""

    shape: Shape
    trace: Trace | None

    def to_bytes(self) -> bytes:
        return self.shape.to_bytes()


def path(sig: Signature) -> Path | None:
    """The path of ``sig`` (None when its pen-down part has no extent)."""
    outline = shape(sig)
    return None if outline is None else Path(outline, trace(sig))


@dataclass(frozen=True)
class Finding:
    """What the rule found: ``why`` it is a replay (None: it is not), and whether
    it is ``replay_like`` (its path within ``REPLAY_LIKE`` times the limit of a
    kept one): such an attempt may be accepted but never adapts a reference."""

    why: str | None
    replay_like: bool = False


REPLAY_LIKE = 1.5
"""A path within this many times its limit of a kept one is too close to adapt from."""
PRUNE = 2.0
"""Kept shapes farther than this many limits on every 4th point are not compared on all
(``shape_distances``' ``within``; on SVC2004 no disguised replay came near it)."""


def check(mac: bytes, test: npt.NDArray[np.floating], refs: npt.NDArray[np.floating],
          enrol_macs: Collection[bytes], attempts: Sequence[Kept], cosine_limit: float, path: Path | None = None,
          trace_limit: float = TRACE_LIMIT) -> str | None:
    """Why this attempt is a replay, or None (``judge``'s ``why``)."""
    return judge(mac, test, refs, enrol_macs, attempts, cosine_limit, path, trace_limit).why


def judge(mac: bytes, test: npt.NDArray[np.floating], refs: npt.NDArray[np.floating],
          enrol_macs: Collection[bytes], attempts: Sequence[Kept], cosine_limit: float, path: Path | None = None,
          trace_limit: float = TRACE_LIMIT, shape_limit: float = SHAPE_LIMIT) -> Finding:
    """Whether this attempt is a replay, and if not whether it is replay-like.

    ``mac``: the attempt's stream MAC; ``test``: its embedding as it will be
    stored (the dequantized int8 template); ``refs`` and ``enrol_macs``: the
    user's dequantized templates and their streams' MACs; ``attempts``: the
    user's kept attempts (``Store`` history: enrolment entries included).
    ``path``: the attempt's ``path``, given when it would be accepted.
    """
    if mac in enrol_macs or any(a.stream_mac == mac for a in attempts):
        return Finding("byte-identical to an earlier signature: replayed stream")
    stored = refs
    embeddings = [a.embedding for a in attempts if a.embedding]   # enrolment entries have none
    if embeddings:
        stored = np.vstack([refs, dequantize_many(embeddings, len(test))])
    near = closest(test, stored)
    if near >= cosine_limit:
        return Finding(f"embedding practically identical (cosine {near:.4f}) to an earlier signature: replay")
    if path is None:
        return Finding(None)
    return _by_path(path, [a.trace for a in attempts if a.trace], trace_limit, shape_limit)


def _by_path(path: Path, kept: list[bytes], trace_limit: float, shape_limit: float) -> Finding:
    """The path measures: shapes against kept shapes, the timed trace against
    kept timed traces (rows written before shapes were kept)."""
    shapes = [Shape.from_bytes(b) for b in kept if b[:2] == b"S1"]
    timed = [Trace.from_bytes(b) for b in kept if b[:2] == _FORMAT]
    d_shape = d_trace = np.inf
    if shapes:
        d_shape = float(shape_distances(path.shape, shapes, within=PRUNE * shape_limit).min())
        if d_shape <= shape_limit:
            return Finding(f"follows an earlier signature's shape (distance {d_shape:.4f}), "
                           "whatever its timing: replay")
    if timed and path.trace is not None:
        d_trace = float(trace_distances(path.trace, timed).min())
        if d_trace <= trace_limit:
            return Finding(f"runs along an earlier signature's path (distance {d_trace:.4f}): replay")
    return Finding(None, d_shape <= REPLAY_LIKE * shape_limit or d_trace <= REPLAY_LIKE * trace_limit)
