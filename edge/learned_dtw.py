"""Learned local features, compared by the device's DTW (the DsDTW line of work).

A model may have a second output beside its embedding: ``steps`` unit vectors
of ``channels`` values along the signature, from a small time-delay network
trained THROUGH this comparison (``trainer.local_features``). Where the
embedding keeps the overall form, these keep what happens where, in features
the network found to tell writers from their forgers; the device aligns a
probe's with each reference's by the same banded DTW as its raw features
(``edge.dtw.distances``: for unit vectors the squared Euclidean cost is
2 - 2 cos, the training's cosine cost).

Each reference stores them int8 at a step of 1/127 (a unit vector's values
lie in [-1, 1]): 32 x 8 = 256 bytes. Each vector is renormalised before it is
quantised, so the stored values do not depend on the output tensor's scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

LEARNED_VERSION = 1
STEP = 1 / 127


@dataclass(frozen=True)
class LearnedConfig:
    """The model's learned feature sequence and its DTW; written into the manifest."""

    steps: int = 32      # vectors per signature
    channels: int = 8    # values per vector
    band: int = 8        # Sakoe-Chiba half-width, in steps (a quarter, as the raw DTW's)
    version: int = LEARNED_VERSION

    @property
    def sequence_bytes(self) -> int:
        return self.steps * self.channels

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnedConfig:
        cfg = cls(**d)
        if cfg.version != LEARNED_VERSION:
            raise ValueError(f"learned features version {cfg.version}; this edge has {LEARNED_VERSION}")
        if not (2 <= cfg.steps <= 255 and 1 <= cfg.channels <= 64 and cfg.band >= 0):
            raise ValueError(f"implausible learned feature settings {d}")
        return cfg


def pack(features: npt.ArrayLike, cfg: LearnedConfig) -> bytes:
    """One signature's (steps, channels) features as stored: unit rows, int8 at ``STEP``."""
    f = np.asarray(features, dtype=np.float64)
    if f.shape != (cfg.steps, cfg.channels):
        raise ValueError(f"learned features of shape {f.shape}, the model's are {(cfg.steps, cfg.channels)}")
    unit = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    stored: bytes = np.clip(np.round(unit / STEP), -127, 127).astype(np.int8).tobytes()
    return stored


def unpack(data: bytes, cfg: LearnedConfig) -> npt.NDArray[np.float64]:
    """(steps, channels) float64 of stored features."""
    if len(data) != cfg.sequence_bytes:
        raise ValueError(f"learned features of {len(data)} bytes, the model's take {cfg.sequence_bytes}")
    return np.frombuffer(data, dtype=np.int8).reshape(cfg.steps, cfg.channels).astype(np.float64) * STEP


def quantized(features: npt.ArrayLike, cfg: LearnedConfig) -> npt.NDArray[np.float64]:
    """One signature's features as a reference stores and compares them (``pack``, then ``unpack``)."""
    return unpack(pack(features, cfg), cfg)
