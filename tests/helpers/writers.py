"""Tiny learnable writers for training tests (no real data, seconds to fit)."""

from __future__ import annotations

import numpy as np

from edge.preprocess import PreprocessConfig
from trainer.data import SigSet

CONFIG = PreprocessConfig()


def writers_set(writers=6, gen=6, forg=3, seed=0) -> SigSet:
    """Each writer a smooth random template; genuine = template + small noise,
    forgery = template + large noise: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    length, channels = CONFIG.shape
    t = np.linspace(0, 1, length)[:, None]
    xs, ws, gs = [], [], []
    for w in range(writers):
        freq, phase = rng.uniform(1, 6, channels), rng.uniform(0, 6, channels)
        template = np.sin(2 * np.pi * freq * t + phase)
        for k in range(gen + forg):
            noise = 0.1 if k < gen else 0.6
            xs.append(template + rng.normal(0, noise, template.shape))
            ws.append(w)
            gs.append(k < gen)
    return SigSet(np.clip(xs, -4, 4).astype(np.float32), np.array(ws), np.array(gs))
