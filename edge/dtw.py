"""DTW on the device: short int8 feature sequences, a banded numpy DTW.

The learned embedding keeps the overall form of a signature; dynamic time
warping keeps the order and timing of every stroke, which is what a careful
forger gets wrong. Their errors differ, so the device scores both
(``edge.scores``: the ``fused`` score).

The Pi has no C DTW (dtaidistance has no aarch64 wheel, scipy is kept off the
device), so this module does it in numpy, fast enough by three choices:

* **Short sequences.** A signature becomes ``points`` (64) samples of its
  pen-down trajectory, evenly spaced by sample index, with the features of the
  reference DTW (``trainer.evaluation.dtw``): x, y, their derivatives (per
  sample, within each stroke: see ``features``) and pressure where the pad
  has it, each z-normalised within the signature.
  Resampling to a fixed length also normalises for writing speed overall,
  leaving DTW the local differences in timing.
* **int8 storage.** z-values are clipped to +-127/32 and stored at a step of
  1/32: 64 x 5 = 320 bytes per reference, sealed with its embedding.
* **Rows as prefix minima.** The DTW recurrence
  ``D[i,j] = c[i,j] + min(D[i-1,j-1], D[i-1,j], D[i,j-1])`` is sequential
  along a row only through ``D[i,j-1]``. Unrolled, a row is
  ``D[i,j] = C[j] + min_{k<=j} (a[k] - C[k-1])`` with ``a[k] =
  min(D[i-1,k-1], D[i-1,k])`` and ``C`` the running sum of the row's costs:
  one ``cumsum`` and one ``minimum.accumulate`` per row, for all references
  at once. So a 64 x 64 DTW against 5 references is 64 small numpy steps.

The distance is dtaidistance's multivariate one (squared Euclidean local
cost, square root of the path's sum), divided by the two lengths; with no
band and no resampling it equals ``dtaidistance.dtw_ndim.distance`` (a test
checks it). The band (Sakoe-Chiba, ``band`` samples either side of the
diagonal) keeps a warp from matching the start of one signature with the end
of another.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

DTW_VERSION = 1
F64 = npt.NDArray[np.float64]
FAR = 1e12  # a cost no real path reaches: stands for "outside the band" (inf would make inf - inf)


@dataclass(frozen=True)
class DtwConfig:
    """How a signature becomes a DTW sequence; written into the manifest."""

    points: int = 64         # samples per sequence (the latency budget's choice, docs/training.md)
    band: int = 16           # Sakoe-Chiba half-width, in samples
    step: float = 1 / 32     # int8 quantisation step of the z-normalised features
    pressure: bool = True    # use the pressure channel (False for pads without pressure)
    version: int = DTW_VERSION

    @property
    def channels(self) -> int:
        return 5 if self.pressure else 4

    @property
    def sequence_bytes(self) -> int:
        return self.points * self.channels

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DtwConfig:
        cfg = cls(**d)
        if cfg.version != DTW_VERSION:
            raise ValueError(f"DTW version {cfg.version}; this edge has {DTW_VERSION}")
        if not (2 <= cfg.points <= 255 and cfg.band >= 0 and 0 < cfg.step <= 1):
            raise ValueError(f"implausible DTW settings {d}")
        return cfg


GAP_STEPS, GAP_MS = 3.0, 30.0
"""A pause longer than both (in sampling steps and in ms) between two pen-down
samples is a lift the pad did not report: a new stroke."""


def strokes(sig: Signature) -> list[slice]:
    """The strokes of the pen-down samples (slices into them): split where the
    pad reported the pen up, or where time stands still too long."""
    idx = np.flatnonzero(sig.pen_down)
    dt = np.diff(sig.t_ms[idx])
    step = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 1.0
    cut = (np.diff(idx) > 1) | (dt > max(GAP_STEPS * step, GAP_MS))
    bounds = [0, *(np.flatnonzero(cut) + 1).tolist(), len(idx)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _per_sample_gradient(v: F64, parts: list[slice]) -> F64:
    return np.concatenate([np.gradient(v[p]) if p.stop - p.start > 1 else np.zeros(p.stop - p.start)
                           for p in parts])


def features(sig: Signature, pressure: bool = True) -> F64:
    """(n, channels) z-normalised features of the pen-down samples.

    Velocity is the change per *sample* within a stroke, not per millisecond:
    a pad samples at a steady rate, but a pad without a clock is stamped
    with the host's arrival times, which bunch up when the host is busy, and
    dividing by those would turn velocity into noise (z-normalising removes
    the rate itself).
    """
    down = sig.pen_down
    x, y = sig.x[down], sig.y[down]
    parts = strokes(sig)
    cols = [x, y, _per_sample_gradient(x, parts), _per_sample_gradient(y, parts)]
    if pressure:
        if sig.pressure is None:
            raise ValueError("this DTW uses pressure and the signature has none")
        cols.append(sig.pressure[down])
    f = np.stack(cols, axis=1).astype(np.float64)
    std = f.std(axis=0)
    z: F64 = (f - f.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return z


def resample(f: F64, points: int) -> F64:
    """``points`` rows evenly spaced along the sample index, linearly interpolated."""
    at = np.linspace(0.0, len(f) - 1, points)
    idx = np.arange(len(f))
    return np.stack([np.interp(at, idx, f[:, c]) for c in range(f.shape[1])], axis=1)


def sequence(sig: Signature, cfg: DtwConfig) -> bytes:
    """The int8 sequence of a signature, as stored beside its embedding."""
    f = resample(features(sig, cfg.pressure), cfg.points)
    return np.clip(np.round(f / cfg.step), -127, 127).astype(np.int8).tobytes()


def quantized(sig: Signature, cfg: DtwConfig) -> F64:
    """A signature's sequence as it is stored and compared: int8, back as floats."""
    return unpack(sequence(sig, cfg), cfg)


def unpack(seq: bytes, cfg: DtwConfig) -> F64:
    """(points, channels) float64 of an int8 sequence."""
    if len(seq) != cfg.sequence_bytes:
        raise ValueError(f"sequence of {len(seq)} bytes, the model's DTW stores {cfg.sequence_bytes}")
    return np.frombuffer(seq, dtype=np.int8).reshape(cfg.points, cfg.channels).astype(np.float64) * cfg.step


def _local_costs(probe: F64, refs: F64) -> F64:
    """(B, n, m) squared Euclidean costs, as |p|^2 + |r|^2 - 2 p.r: one matrix product
    instead of a (B, n, m, d) difference (a tenth of the time; the two agree to about
    1e-14, and the rounding's negative zeros are clipped)."""
    costs: F64 = probe @ refs.transpose(0, 2, 1)
    costs *= -2.0
    costs += np.einsum("nd,nd->n", probe, probe)[None, :, None]
    costs += np.einsum("bmd,bmd->bm", refs, refs)[:, None, :]
    return np.maximum(costs, 0.0, out=costs)


def outside_band(n: int, m: int, band: float) -> F64:
    """(n, m): FAR where a cell lies more than ``band`` from the diagonal, else 0."""
    if not band:
        return np.zeros((n, m))
    diagonal = np.arange(n)[:, None] * (m - 1) / max(n - 1, 1)
    return np.where(np.abs(diagonal - np.arange(m)[None, :]) > band, FAR, 0.0)


def distances(probe: npt.ArrayLike, refs: npt.ArrayLike, band: float = 0) -> F64:
    """DTW distance of ``probe`` (n, d) to each of ``refs`` (B, m, d): (B,).

    ``band`` 0 means no band. Cells outside the band are kept out of the
    running sums (which must stay small to subtract exactly) and are added
    as FAR to what enters and leaves each row instead.
    """
    c = _local_costs(np.asarray(probe, dtype=np.float64), np.asarray(refs, dtype=np.float64))
    B, n, m = c.shape
    far = outside_band(n, m, band)
    running = np.cumsum(c, axis=2)   # C[j] of every row
    enter = far - (running - c)      # added to a[k]: -C[k-1], and FAR outside the band
    leave = running + far            # added to the prefix minimum: C[j], and FAR outside
    row = np.empty((B, m + 1))
    row[:, 0] = FAR                  # D[i, -1]: no path enters from the left edge
    row[:, 1:] = leave[:, 0]         # first row: only moves along it
    for i in range(1, n):
        a = np.minimum(row[:, 1:], row[:, :-1])   # min(D[i-1, j], D[i-1, j-1])
        a += enter[:, i]
        np.minimum.accumulate(a, axis=1, out=a)
        np.add(a, leave[:, i], out=row[:, 1:])
    d: F64 = np.sqrt(row[:, -1]) / (n + m)
    return d


def spread(refs: npt.ArrayLike, band: float = 0) -> float:
    """Mean DTW distance between the references: the unit of the DTW score."""
    return spread_and_medoid(refs, band)[0]


def spread_and_medoid(refs: npt.ArrayLike, band: float = 0) -> tuple[float, int]:
    """The references' mean DTW distance to each other (``spread``) and the most
    typical of them, the medoid (least summed distance to the others; the first
    on a tie), from one pass over the pairs. One reference: (1.0, 0)."""
    seqs = np.asarray(refs, dtype=np.float64)
    n = len(seqs)
    pairs = [distances(seqs[i], seqs[i + 1:], band) for i in range(n - 1)]
    if not pairs:
        return 1.0, 0
    matrix = np.zeros((n, n))
    for i, row in enumerate(pairs):
        matrix[i, i + 1:] = matrix[i + 1:, i] = row
    return float(np.mean(np.concatenate(pairs))), int(np.argmin(matrix.sum(axis=1)))


def in_spreads(d: F64, ref_spread: float) -> float:
    """``-mean(d) / spread``: distances in units of the references' own, negated (<= 0)."""
    return float(-np.mean(d) / max(ref_spread, 1e-9))


def dtw_score(probe: npt.ArrayLike, refs: npt.ArrayLike, ref_spread: float, band: float = 0) -> float:
    """``-mean_r d(probe, r) / spread``: distance in units of the references' own (<= 0)."""
    return in_spreads(distances(probe, refs, band), ref_spread)
