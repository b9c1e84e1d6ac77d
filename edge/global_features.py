"""Global features of a signature, and how far a probe's lie from a writer's own.

The embedding and the DTW compare the shape and the order of the strokes,
each in units that drop the pad's scale and the writing's overall speed.
What a careful forger still gets wrong is often global: they write slower,
hesitate (longer pauses, more pen lifts), and draw bigger or smaller. These
are a few numbers per signature, stored with each reference (``pack``:
2 bytes each), and compared in the writer's own units: the distance of the
probe's value from the references' mean, over the references' own spread
with a floor (five references give a noisy spread):

    deviation = mean over the aspect's features of |g - mean_r g| / sqrt(sd_r g ** 2 + FLOOR ** 2)

The durations, speed and sizes are logarithms, so a ratio of 1.1 means the
same on a small pad as on a big one, and FLOOR (0.1) is about a 10 % change;
the stroke count is a square root. Pressure (0..1 after the pad's scale) is
``log1p`` of its mean and its coefficient of variation: there a 10 % change
is about 0.03, under the floor, so the pressure aspect speaks only of large
differences (a forger pressing far harder or lighter).
The decision (``edge.scores``: the ``*-deviation`` scores, parts of the
``fused`` score) weighs each aspect as the trainer measured
(``trainer.fusion``), and each aspect is one of a decision's reasons.

Features (pen-down samples, strokes as ``edge.dtw.strokes`` finds them):

* timing: ``log_pen_down_s`` (time with the pen down), ``log_total_s`` (first
  touch to last lift, pauses included), ``log_speed`` (path length over
  pen-down time, in the pad's units per second);
* size: ``log_path`` (path length), ``log_width``, ``log_height``;
* strokes: ``sqrt_strokes`` (the number of strokes: pen lifts plus one);
* pressure (pads that have it): ``log_mean_pressure``, ``pressure_cv``
  (its spread over its mean).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

from .dtw import strokes

GLOBAL_VERSION = 1
FLOOR = 0.1
F64 = npt.NDArray[np.float64]

_ASPECTS: dict[str, tuple[str, ...]] = {
    "timing": ("log_pen_down_s", "log_total_s", "log_speed"),
    "size": ("log_path", "log_width", "log_height"),
    "strokes": ("sqrt_strokes",),
    "pressure": ("log_mean_pressure", "pressure_cv"),
}
_MIN_S = 0.05  # a duration floor: a one-sample stroke lasts 0 ms, and log(0) is no feature


@dataclass(frozen=True)
class GlobalConfig:
    """Which global features a model's references keep; written into the manifest."""

    pressure: bool = True
    version: int = GLOBAL_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        kept = [a for a in _ASPECTS if self.pressure or a != "pressure"]
        return tuple(n for a in kept for n in _ASPECTS[a])

    @property
    def byte_count(self) -> int:
        return 2 * len(self.names)

    def columns(self, aspect: str) -> list[int]:
        """The positions of an aspect's features (none: the pad kind has no such aspect)."""
        return [self.names.index(n) for n in _ASPECTS[aspect] if n in self.names]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GlobalConfig:
        cfg = cls(**d)
        if cfg.version != GLOBAL_VERSION:
            raise ValueError(f"global features version {cfg.version}; this edge has {GLOBAL_VERSION}")
        return cfg


def measure(sig: Signature, cfg: GlobalConfig) -> F64:
    """The signature's global features, in ``cfg.names`` order."""
    down = sig.pen_down
    t, x, y = sig.t_ms[down], sig.x[down], sig.y[down]
    parts = strokes(sig)
    pen_down_s = sum(float(t[p][-1] - t[p][0]) for p in parts if p.stop > p.start) / 1000.0
    path = sum(float(np.hypot(np.diff(x[p]), np.diff(y[p])).sum()) for p in parts)
    values = {"log_pen_down_s": np.log(max(pen_down_s, _MIN_S)),
              "log_total_s": np.log(max(float(t[-1] - t[0]) / 1000.0, _MIN_S)),
              "log_speed": np.log1p(path / max(pen_down_s, _MIN_S)),
              "log_path": np.log1p(path), "log_width": np.log1p(float(np.ptp(x))),
              "log_height": np.log1p(float(np.ptp(y))), "sqrt_strokes": np.sqrt(len(parts))}
    if cfg.pressure:
        if sig.pressure is None:
            raise ValueError("these global features use pressure and the signature has none")
        p = sig.pressure[down]
        mean = float(np.mean(p))
        values["log_mean_pressure"] = np.log1p(mean)
        values["pressure_cv"] = float(np.std(p)) / mean if mean > 0 else 0.0
    return np.array([values[n] for n in cfg.names], dtype=np.float64)


def pack(values: npt.ArrayLike) -> bytes:
    """2 bytes a feature (float16: three significant digits, ample next to FLOOR)."""
    return np.asarray(values, dtype="<f2").tobytes()


def unpack(blob: bytes, cfg: GlobalConfig) -> F64:
    if len(blob) != cfg.byte_count:
        raise ValueError(f"global features of {len(blob)} bytes, the model stores {cfg.byte_count}")
    return np.frombuffer(blob, dtype="<f2").astype(np.float64)


def quantized(sig: Signature, cfg: GlobalConfig) -> F64:
    """A signature's features as they are stored and compared (float16, back as floats)."""
    return unpack(pack(measure(sig, cfg)), cfg)


def deviation(refs: npt.ArrayLike, probe: npt.ArrayLike, columns: list[int]) -> float:
    """Mean over ``columns`` of |probe - mean(refs)| / sqrt(sd(refs)^2 + FLOOR^2): >= 0."""
    if not columns:
        return 0.0
    r = np.asarray(refs, dtype=np.float64)[:, columns]
    p = np.asarray(probe, dtype=np.float64)[columns]
    return float(np.mean(np.abs(p - r.mean(axis=0)) / np.sqrt(r.var(axis=0) + FLOOR ** 2)))
