"""The one preprocessing function: a ``Signature`` in, the model's input out.

Used by the trainer and by the device alike, so training and serving cannot
drift. Its parameters (``PreprocessConfig``) and ``PREPROCESS_VERSION`` go into
every model manifest, and the edge refuses a model built for other ones.

What it does, and why:

1. Keep pen-down samples only. SVC2004 does not sample the pen in the air and
   many pads do; dropping hover samples makes both look alike.
2. Find pen lifts from the time gaps (over 4 sample periods, at least 25 ms)
   and shorten each lift to at most ``gap_cap_ms``: a 27 s pause in the middle
   of a signature says nothing about who wrote it.
3. Resample to ``length`` points evenly spaced in time. This removes the pad's
   sampling rate (100 Hz, 200 Hz, jittery clocks) while keeping the rhythm:
   slow parts get more points than fast parts, as they did when written.
4. Normalise position: centre on the mean, divide by the RMS radius. Units,
   offset and size of the pad drop out; y must grow upward (see signature).
5. Channels: x, y; velocity vx, vy and speed in normalised units per
   normalised time (shape of the dynamics); pressure divided by the
   signature's own 95th percentile (pads differ in pressure curves); a
   pen-down flag (0 inside shortened lifts); and the log of the duration, a
   constant channel that puts back the absolute speed that step 3 removed.
6. Clip every channel to +-``clip``: one int8 input scale then serves all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import SignatureError
from firmware_bridge.signature import MIN_POINTS, Signature

PREPROCESS_VERSION = 1
F64 = npt.NDArray[np.float64]

# Scales that bring each channel to about unit spread, measured on SVC2004
# Task2 genuine signatures of users 1-30 (tests/edge/test_preprocess.py checks
# the spread stays within bounds). They are constants, not fitted per model,
# so that the version number alone pins the function.
VELOCITY_SCALE = 1.0 / 12.0
LOG_DURATION_CENTRE = np.log(2.5)  # seconds
LOG_DURATION_SCALE = 0.5


@dataclass(frozen=True)
class PreprocessConfig:
    length: int = 256
    gap_cap_ms: float = 150.0
    use_pressure: bool = True
    clip: float = 4.0
    version: int = PREPROCESS_VERSION

    @property
    def channels(self) -> tuple[str, ...]:
        names: tuple[str, ...] = ("x", "y", "vx", "vy", "speed")
        if self.use_pressure:
            names += ("pressure",)
        return names + ("pen_down", "log_duration")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.length, len(self.channels))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"channels": list(self.channels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        known = {k: data[k] for k in ("length", "gap_cap_ms", "use_pressure", "clip", "version")
                 if k in data}
        cfg = cls(**known)
        if "channels" in data and list(data["channels"]) != list(cfg.channels):
            raise SignatureError(f"preprocessing channels {data['channels']} do not match "
                                 f"version {cfg.version}: {list(cfg.channels)}")
        return cfg


DEFAULT = PreprocessConfig()


def preprocess(sig: Signature, config: PreprocessConfig = DEFAULT) -> npt.NDArray[np.float32]:
    """The model input for ``sig``: float32 array of shape ``config.shape``."""
    if config.version != PREPROCESS_VERSION:
        raise SignatureError(
            f"preprocessing version {config.version} requested, this is version {PREPROCESS_VERSION}")
    if config.use_pressure and sig.pressure is None:
        raise SignatureError(f"{sig.source or 'signature'}: the model needs pressure, the pad has none")
    t, x, y, p = _pen_down_samples(sig)
    t, lifted = _shorten_lifts(t, config.gap_cap_ms)
    grid = _linspace(t[-1], config.length)
    rx, ry = np.interp(grid, t, x), np.interp(grid, t, y)
    rx, ry = _normalise_position(rx, ry)
    down = 1.0 - _inside_lifts(grid, t, lifted)
    vx, vy = _velocity(rx, ry, config.length)
    # Columns are written into one preallocated array (the device runs this
    # for every decision; np.stack of eight columns costs as much as a step).
    out = np.empty(config.shape, dtype=np.float64)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = rx, ry, vx, vy
    np.hypot(vx, vy, out=out[:, 4])
    k = 5
    if config.use_pressure:
        np.multiply(_normalise_pressure(np.interp(grid, t, p)), down, out=out[:, 5])
        k = 6
    out[:, k] = down
    out[:, k + 1] = (np.log(max(t[-1], 1.0) / 1000.0) - LOG_DURATION_CENTRE) / LOG_DURATION_SCALE
    np.clip(out, -config.clip, config.clip, out=out)
    return out.astype(np.float32)


def preprocess_many(sigs: Iterable[Signature], config: PreprocessConfig = DEFAULT) -> npt.NDArray[np.float32]:
    """Stack ``preprocess`` over several signatures: shape (n, length, channels)."""
    return np.stack([preprocess(s, config) for s in sigs])


def _pen_down_samples(sig: Signature) -> tuple[F64, F64, F64, F64]:
    down = sig.pen_down
    t, x, y = sig.t_ms[down], sig.x[down], sig.y[down]
    p = sig.pressure[down] if sig.pressure is not None else np.ones_like(t)
    # Equal timestamps (SVC2004 has hundreds) would make interpolation
    # ambiguous: keep the last sample of each instant. (Whether a signature is
    # long enough to judge is firmware_bridge.signature.too_short's to say;
    # this only guards the interpolation.)
    keep = np.ones(len(t), dtype=bool)
    keep[:-1] = t[1:] > t[:-1]
    if np.count_nonzero(keep) < MIN_POINTS:
        raise SignatureError(f"{sig.source or 'signature'}: fewer than {MIN_POINTS} distinct pen-down instants")
    return t[keep] - t[keep][0], x[keep], y[keep], p[keep]


def _shorten_lifts(t: F64, cap_ms: float) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Times with every pen lift shortened to ``cap_ms``, and the lift mask per step."""
    dt = np.diff(t)
    period = _quantile(dt, 0.5)
    lifted = dt > max(4.0 * period, 25.0)
    dt = np.where(lifted, np.minimum(dt, cap_ms), dt)
    out = np.empty(len(t))
    out[0] = 0.0
    np.cumsum(dt, out=out[1:])
    return out, lifted


def _inside_lifts(grid: F64, t: F64, lifted: npt.NDArray[np.bool_]) -> F64:
    """1.0 where a resampled instant falls strictly inside a pen lift."""
    step = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(lifted) - 1)
    inside = lifted[step] & (grid > t[step]) & (grid < t[step + 1])
    return inside.astype(np.float64)


def _normalise_position(x: F64, y: F64) -> tuple[F64, F64]:
    x, y = x - x.mean(), y - y.mean()
    radius = np.sqrt((np.dot(x, x) + np.dot(y, y)) / len(x))
    if radius <= 0:
        raise SignatureError("signature has zero extent")
    return x / radius, y / radius


def _velocity(x: F64, y: F64, length: int) -> tuple[F64, F64]:
    # Per unit of normalised time (the whole signature lasts 1): independent
    # of the resampling length and of the pad's rate.
    scale = (length - 1) * VELOCITY_SCALE
    return _gradient(x) * scale, _gradient(y) * scale


def _gradient(v: F64) -> F64:
    # np.gradient's central differences, without its generality (and cost).
    g = np.empty_like(v)
    g[1:-1] = (v[2:] - v[:-2]) * 0.5
    g[0], g[-1] = v[1] - v[0], v[-1] - v[-2]
    return g


def _linspace(stop: float, num: int) -> F64:
    """``np.linspace(0.0, stop, num)``, bit for bit, without its generality (and cost)."""
    grid = np.arange(num, dtype=np.float64)
    grid *= stop / (num - 1)
    grid[-1] = stop
    return grid


def _quantile(v: F64, q: float) -> float:
    # The lower order statistic: np.percentile's interpolation costs 5x more.
    k = int(q * (len(v) - 1))
    return float(np.partition(v, k)[k])


def _normalise_pressure(p: F64) -> F64:
    top = _quantile(p, 0.95)
    return p / top if top > 0 else np.zeros_like(p)
