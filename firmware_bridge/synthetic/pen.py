"""The pen: how sigma-lognormal strokes become samples, with pressure and tilt.

``render`` samples the pen-down trajectory at a pad's rate, as SVC2004 does:
pen-down samples only, time in ms from 0, x and y in tablet units (y up),
pressure in 0..1, and a constant-ish azimuth and altitude in SVC2004's units.
A ``PenStyle`` is one hand's habits; writers and forgers each have their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import SynthesisError
from ..signature import Floats, Signature
from .sigmalognormal import SigmaLognormal, pen_down_times, trajectory, velocity


@dataclass(frozen=True)
class PenStyle:
    pressure: float = 0.6       # plateau pressure, 0..1
    speed_relief: float = 0.15  # fraction of pressure lost at the fastest point
    azimuth: float = 900.0      # SVC2004 units (0..1840 seen)
    altitude: float = 600.0     # SVC2004 units (280..900 seen)
    wave: float = 0.1           # slow pressure swell, fraction of the plateau
    wave_hz: float = 0.6
    wave_phase: float = 0.0


def render(params: SigmaLognormal, style: PenStyle, rate_hz: float = 100.0, source: str = "") -> Signature:
    """Sample the pen-down trajectory at rate_hz, with pressure and tilt."""
    t = pen_down_times(params, rate_hz)
    if len(t) < 10:
        raise SynthesisError(f"{len(t)} pen-down samples at {rate_hz:g} Hz; a signature needs 10")
    x, y = trajectory(params, t)
    vx, vy = velocity(params, t)
    pressure = _pressure(t, np.hypot(vx, vy), style, rate_hz)
    drift = np.sin(2 * np.pi * 0.3 * (t - t[0]))  # the hand rolls slowly while writing
    return Signature.create(
        t_ms=(t - t[0]) * 1000.0, x=x, y=y, pen_down=np.ones(len(t), bool), pressure=pressure,
        azimuth=style.azimuth + 40 * drift, altitude=style.altitude + 15 * drift, source=source)


def _pressure(t: Floats, speed: Floats, style: PenStyle, rate_hz: float) -> Floats:
    """A plateau per pen-down run that builds on landing, fades on lifting, eases at speed."""
    run = np.r_[0, np.cumsum(np.diff(t) > 1.5 / rate_hz)]
    starts = np.r_[0, np.flatnonzero(np.diff(run)) + 1]
    ends = np.r_[starts[1:] - 1, len(t) - 1]
    since_land, to_lift = t - t[starts[run]], t[ends[run]] - t
    ramp = np.clip(np.minimum(since_land, to_lift) / 0.04, 0.0, 1.0)
    relief = 1.0 - style.speed_relief * speed / max(float(speed.max()), 1e-9)
    swell = 1.0 + style.wave * np.sin(2 * np.pi * style.wave_hz * (t - t[0]) + style.wave_phase)
    pressure: Floats = np.clip(style.pressure * (0.4 + 0.6 * ramp) * relief * swell, 0.02, 1.0)
    return pressure


def vary_pen(style: PenStyle, rng: np.random.Generator) -> PenStyle:
    """One signature's pen: the plateau and the swell's timing vary a little."""
    return replace(style, pressure=float(np.clip(style.pressure * rng.lognormal(0, 0.08), 0.1, 1.0)),
                   wave_phase=style.wave_phase + rng.normal(0, 0.6))
