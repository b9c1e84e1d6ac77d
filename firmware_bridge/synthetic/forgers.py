"""Skilled forgers: a writer's shape copied with errors, the dynamics their own.

SVC2004's 20 skilled forgeries of a user come from several other contributors,
so each writer has ``FORGERS`` forgers with traits of their own (``Forger``):
slower and more uniform strokes, pauses, extra pen lifts, their own pen.
``writers.Writer.forgery`` chooses the forger and owns the random streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pen import PenStyle
from .sigmalognormal import AIR_Z, QUANTILE_Z, SigmaLognormal, air_log_scale, warp_onsets

FORGERS = 4
"""SVC2004's 20 skilled forgeries of a user come from several other contributors."""


@dataclass(frozen=True)
class Forger:
    slowness: float      # stroke durations and onset intervals stretch by this
    uniformity: float    # 0..1: how far stroke sigmas pull to the forger's own
    sigma: float
    pause_chance: float  # per stroke: stop (pen down) before it
    lift_chance: float   # per stroke: lift the pen before it
    shape_error: float   # radians of direction error per stroke
    style: PenStyle


def make_forger(victim: PenStyle, rng: np.random.Generator) -> Forger:
    """A forger's traits, drawn from ``rng``; their pressure takes after the victim's."""
    style = PenStyle(pressure=float(np.clip(victim.pressure * rng.uniform(0.6, 1.0), 0.15, 1.0)),
                     speed_relief=rng.uniform(0.0, 0.2), azimuth=rng.uniform(300, 1500),
                     altitude=rng.uniform(400, 800), wave=rng.uniform(0.05, 0.25),
                     wave_hz=rng.uniform(0.3, 1.2), wave_phase=rng.uniform(0, 6.3))
    return Forger(slowness=rng.uniform(1.0, 1.35), uniformity=rng.uniform(0.3, 0.8),
                  sigma=rng.uniform(0.25, 0.4), pause_chance=rng.uniform(0.03, 0.12),
                  lift_chance=rng.uniform(0.02, 0.08), shape_error=rng.uniform(0.06, 0.14), style=style)


def forge(p: SigmaLognormal, f: Forger, rng: np.random.Generator) -> SigmaLognormal:
    """The shape copied with errors, the dynamics the forger's own."""
    n = len(p)
    slow = f.slowness * rng.lognormal(0, 0.08)
    size, tilt = rng.lognormal(0, 0.08), rng.normal(0, 0.05)
    forged = p.replace(
        t0=warp_onsets(p.t0, slow * rng.lognormal(0, 0.2, n)),
        mu=p.mu + np.log(slow) + rng.normal(0, 0.1, n),
        sigma=np.clip((1 - f.uniformity) * p.sigma + f.uniformity * f.sigma * rng.lognormal(0, 0.1, n), 0.05, 1.2),
        D=p.D * size * rng.lognormal(0, 0.1, n),
        theta_s=p.theta_s + tilt + rng.normal(0, f.shape_error, n),
        theta_e=p.theta_e + tilt + rng.normal(0, f.shape_error, n),
        x0=p.x0 + rng.normal(0, 300), y0=p.y0 + rng.normal(0, 300))
    return _hesitate(forged, f, rng)


def _hesitate(p: SigmaLognormal, f: Forger, rng: np.random.Generator) -> SigmaLognormal:
    """Insert pauses (pen down) and extra lifts before some pen-down strokes."""
    order = [i for i in np.argsort(p.t0, kind="stable")[1:] if not p.air[i]]
    extra: list[list[float]] = []
    t0 = p.t0.copy()
    for i in order:
        draw = rng.random()
        if draw < f.pause_chance + f.lift_chance:
            delay = rng.uniform(0.05, 0.3) if draw < f.pause_chance else rng.uniform(0.06, 0.2)
            start = t0[i] + np.exp(p.mu[i] - QUANTILE_Z * p.sigma[i])
            later = t0 >= t0[i]
            t0[later] += delay
            if draw >= f.pause_chance:  # a lift: an air stroke with a small slip
                mu = air_log_scale(delay, 0.25)
                extra.append([start - np.exp(mu - AIR_Z * 0.25), mu, 0.25,
                              abs(rng.normal(0, 60)), *([rng.uniform(-np.pi, np.pi)] * 2)])
    if not extra:
        return p.replace(t0=t0)
    e = np.array(extra)
    return p.replace(t0=np.r_[t0, e[:, 0]], mu=np.r_[p.mu, e[:, 1]], sigma=np.r_[p.sigma, e[:, 2]],
                     D=np.r_[p.D, e[:, 3]], theta_s=np.r_[p.theta_s, e[:, 4]],
                     theta_e=np.r_[p.theta_e, e[:, 5]], air=np.r_[p.air, np.ones(len(e), bool)])
