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


def cursive_signature(loops: int = 6, rate_hz: float = 100.0, seed: int = 0) -> Signature:
    """One stroke of ``loops`` cursive loops (a prolate trochoid, like "llllll"), then a
    underline: a real-looking signature of two strokes, 1.88 s of writing.

    Each loop turns the pen through a full circle and more, so it holds
    far more turning than a circle or one-stroke initials.
    """
    rng = np.random.default_rng(seed)
    n = 150
    u = np.linspace(0.0, 2 * math.pi * loops, n)
    x = 300 * u - 900 * np.sin(u) + rng.integers(0, 20, n)
    y = 3000 - 1200 * np.cos(u) + rng.integers(0, 20, n)
    line_x, line_y = np.linspace(0.0, 300 * u[-1], 40), np.full(40, 1200.0)
    t = np.concatenate((np.arange(n), n + 20 + np.arange(40))) * (1000.0 / rate_hz)
    return Signature.create(t_ms=t, x=np.concatenate((x, line_x)), y=np.concatenate((y, line_y)),
                            source=f"cursive{seed}")


def line_signature(ms: float = 490.0, n: int = 50) -> Signature:
    """One straight stroke 1000 units long, written in ``ms``: too simple to enrol."""
    return Signature.create(t_ms=np.linspace(0.0, ms, n), x=np.linspace(0, 1000, n), y=np.zeros(n),
                            source="line")


def circle_signature() -> Signature:
    """One circle of diameter 1000 in 100 chords, written in 1 s: too simple to enrol."""
    a = np.linspace(0, 2 * math.pi, 101)
    return Signature.create(t_ms=np.arange(101) * 10.0, x=500 * np.cos(a), y=500 * np.sin(a), source="circle")
