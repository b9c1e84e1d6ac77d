"""Signatures that need no dataset."""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.signature import Signature


def loop_signature(n: int = 120, rate_hz: float = 200.0, gap_ms: float = 60.0,
                   seed: int = 0) -> Signature:
    """Two strokes of a Lissajous-like loop, integer coordinates, 10-bit pressure.

    The second stroke starts after ``gap_ms`` of silence (pen lifted, as in
    SVC2004: pen-up movement is not sampled).
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    t = i * (1000.0 / rate_hz)
    t[n // 2:] += gap_ms
    x = np.round(5000 + 3000 * np.sin(2 * math.pi * i / n) + rng.integers(0, 30, n))
    y = np.round(4000 + 1500 * np.sin(4 * math.pi * i / n + 0.3))
    pressure = np.round(200 + 700 * np.abs(np.sin(math.pi * i / n))) / 1023.0
    return Signature.create(t_ms=t, x=x, y=y, pressure=pressure, source=f"loop{seed}")
