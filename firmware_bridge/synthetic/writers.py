"""Synthetic signature writers: genuine signatures and skilled forgeries, no dataset needed.

A writer is a sigma-lognormal template (``sigmalognormal.SigmaLognormal``) and a
pen style (``pen.PenStyle``: pressure, tilt). Every signature is drawn from its
own random stream, ``numpy.random.default_rng([domain, writer seed, kind, index])``, so
``make_writer(s).genuine(i)`` is the same on every machine and in any order.

* ``make_writer(seed)``: a random template built from virtual target points
  (up-down letter strokes that progress rightwards, dots and bars, pen lifts),
  scaled to SVC2004 sizes. The ranges are listed in ``docs/synthetic.md``.
* ``Writer.genuine(i)``: the template with small perturbations of every stroke
  parameter and of global tempo, size and slant, in the spirit of the
  sigma-lognormal duplicators (Diaz et al., IEEE T-Cyb 2018).
* ``Writer.forgery(i)``: one of four forgers (``forgers``), each with their own
  traits, copying the shape with errors but not the dynamics: slower and more
  uniform strokes, pauses, extra pen lifts, their own pressure.
* ``Writer.from_signature(sig)``: a writer whose template is fitted to a real
  signature, so real writers can be varied and forged too.

Output: pen-down samples only (pen-up movement is not sampled, as in SVC2004),
time in ms from 0, x and y in tablet units (y up), pressure in 0..1, and a
constant-ish azimuth and altitude in SVC2004's units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SynthesisError
from ..signature import Bools, Floats, Signature
from .forgers import FORGERS, forge, make_forger
from .pen import PenStyle, render, vary_pen
from .sigmalognormal import AIR_Z, QUANTILE_Z, SigmaLognormal, air_log_scale, extract, warp_onsets

_DOMAIN = 0x5167_5AD  # keeps these streams apart from any other use of the seed
_GENUINE, _FORGER, _FORGERY, _TEMPLATE, _GENUINE_PEN = 1, 2, 3, 4, 5


@dataclass(frozen=True, eq=False)
class Writer:
    seed: int
    template: SigmaLognormal
    style: PenStyle = field(default_factory=PenStyle)
    source: str = "synthetic"
    fit_snr_db: float | None = None  # for writers fitted to a real signature

    def genuine_params(self, index: int) -> SigmaLognormal:
        return _vary_genuine(self.template, _rng(self.seed, _GENUINE, _check_index(index)))

    def forgery_params(self, index: int) -> tuple[SigmaLognormal, PenStyle]:
        forger = make_forger(self.style, _rng(self.seed, _FORGER, _check_index(index) // 5 % FORGERS))
        rng = _rng(self.seed, _FORGERY, index)
        return forge(self.template, forger, rng), vary_pen(forger.style, rng)

    def genuine(self, index: int, rate_hz: float = 100.0) -> Signature:
        style = vary_pen(self.style, _rng(self.seed, _GENUINE_PEN, _check_index(index)))
        return render(self.genuine_params(index), style, rate_hz,
                      source=f"{self.source}:{self.seed}:genuine:{index}")

    def forgery(self, index: int, rate_hz: float = 100.0) -> Signature:
        params, style = self.forgery_params(index)
        return render(params, style, rate_hz, source=f"{self.source}:{self.seed}:forgery:{index}")

    @classmethod
    def from_signature(cls, sig: Signature, seed: int = 0) -> Writer:
        """A writer whose template is the sigma-lognormal fit of ``sig``."""
        params, quality = extract(sig)
        style = PenStyle()
        if sig.pressure is not None:
            style = replace(style, pressure=float(np.clip(np.median(sig.pressure[sig.pen_down]), 0.1, 1.0)))
        if sig.azimuth is not None and sig.altitude is not None:
            style = replace(style, azimuth=float(np.median(sig.azimuth)), altitude=float(np.median(sig.altitude)))
        return cls(_check_seed(seed), params, style, source=f"fit:{sig.source}", fit_snr_db=quality)


def make_writer(seed: int) -> Writer:
    """A random writer, the same for the same seed."""
    rng = _rng(_check_seed(seed), _TEMPLATE, 0)
    style = PenStyle(pressure=rng.uniform(0.45, 0.85), speed_relief=rng.uniform(0.0, 0.3),
                     azimuth=rng.uniform(300, 1500), altitude=rng.uniform(400, 800),
                     wave=rng.uniform(0.05, 0.25), wave_hz=rng.uniform(0.3, 1.2), wave_phase=rng.uniform(0, 6.3))
    return Writer(seed, _random_template(rng), style)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthesisError(f"writer seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _check_index(index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise SynthesisError(f"signature index must be an int >= 0, got {index!r}")
    return int(index)


def _rng(seed: int, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng([_DOMAIN, seed, kind, index])


# --- random templates ------------------------------------------------------------

Habits = dict[str, float]
"""A writer's tempo and shape habits, by name (drawn once per writer)."""


def _random_template(rng: np.random.Generator) -> SigmaLognormal:
    """Virtual targets -> chords -> strokes, with writer-level tempo and shape habits."""
    habits: Habits = dict(
        strokes_per_part=rng.uniform(2.0, 6.0), mark_chance=rng.uniform(0.1, 0.35),
        progress=rng.uniform(0.05, 0.25), slant=rng.uniform(-0.3, 0.4), loopiness=rng.uniform(0.0, 0.15),
        spacing=rng.uniform(0.045, 0.08), mu=np.log(rng.uniform(0.08, 0.14)),
        sigma=rng.uniform(0.2, 0.35), gap=rng.uniform(0.06, 0.12), min_strokes=rng.uniform(14, 24))
    n_parts = 1 + min(int(rng.negative_binomial(3, 0.4)), 15)
    # Few pen lifts mean long cursive parts: a name takes a dozen strokes or more.
    habits["strokes_per_part"] = max(habits["strokes_per_part"], habits["min_strokes"] / n_parts)
    chords: list[Floats] = []
    air: list[bool] = []
    for part in range(n_parts):
        part_chords = _part_chords(rng, habits)
        chords += part_chords
        air += [False] * len(part_chords)
        if part < n_parts - 1:
            chords.append(_lift_chord(rng, np.sum(chords, axis=0)))
            air.append(True)
    scaled = _scale_chords(rng, np.array(chords), np.array(air))
    return _strokes_from_chords(rng, scaled, np.array(air), habits)


def _part_chords(rng: np.random.Generator, habits: Habits) -> list[Floats]:
    """Chord vectors (letter height ~1) of one pen-down part: a mark or a cursive run."""
    if rng.random() < habits["mark_chance"]:
        angle, length = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 0.9)
        return [np.array([np.cos(angle), np.sin(angle)]) * length for _ in range(rng.integers(1, 3))]
    n = 1 + int(rng.poisson(habits["strokes_per_part"] - 1))
    up = rng.random() < 0.5
    out = []
    for _ in range(n):
        dy = (1 if up else -1) * rng.uniform(0.5, 1.3)
        dx = habits["progress"] * rng.uniform(0.2, 2.0) + habits["slant"] * dy
        out.append(np.array([dx, dy]))
        up = not up if rng.random() < 0.85 else up
    return out


def _lift_chord(rng: np.random.Generator, here: Floats) -> Floats:
    """The pen-up jump: usually on to the next letter, sometimes back (dots, bars)."""
    dx = -rng.uniform(0.3, 2.0) if rng.random() < 0.3 else rng.uniform(0.2, 1.2)
    return np.array([dx, -0.7 * here[1] + rng.normal(0, 0.3)])  # drift back to the baseline


def _scale_chords(rng: np.random.Generator, chords: Floats, air: Bools) -> Floats:
    """Stretch to a sampled signature size (SVC2004 Task2: width ~5900, height ~3300)."""
    points = np.vstack([[0, 0], np.cumsum(chords, axis=0)])
    down = np.r_[~air, False] | np.r_[False, ~air]  # ends of pen-down chords
    extent = np.maximum(np.ptp(points[down], axis=0), 0.3)
    width = float(np.clip(rng.lognormal(np.log(5900), 0.35), 2000, 11000))
    height = width * float(np.clip(rng.lognormal(np.log(0.55), 0.35), 0.2, 1.2))
    scaled: Floats = chords * np.array([width, height]) / extent
    return scaled


def _strokes_from_chords(rng: np.random.Generator, chords: Floats, air: Bools, habits: Habits) -> SigmaLognormal:
    """Each chord becomes a stroke (an arc with that chord); the timing follows the habits."""
    n = len(chords)
    mu = habits["mu"] + rng.normal(0, 0.15, n)
    sigma = habits["sigma"] * np.exp(rng.normal(0, 0.15, n))
    turn = rng.normal(0, 0.7, n)
    loops = rng.random(n) < habits["loopiness"]
    turn[loops] = rng.choice([-1, 1], loops.sum()) * rng.uniform(2.5, 4.0, loops.sum())
    turn[air] = 0.0
    angle = np.arctan2(chords[:, 1], chords[:, 0])
    length = np.hypot(chords[:, 0], chords[:, 1]) / np.sinc(turn / (2 * np.pi))
    t0, clock = np.zeros(n), 0.0
    for i in range(n):
        if air[i]:  # lift where the previous stroke ends, for a sampled gap
            gap = max(habits["gap"] * rng.lognormal(0, 0.35), 0.04)
            sigma[i] = 0.25
            mu[i] = air_log_scale(gap, 0.25)
            lift = t0[i - 1] + np.exp(mu[i - 1] + QUANTILE_Z * sigma[i - 1])
            t0[i] = lift - np.exp(mu[i] - AIR_Z * sigma[i])
            clock = lift + gap
        elif i > 0 and air[i - 1]:  # land: the next stroke starts as the lift ends
            t0[i] = clock - np.exp(mu[i] - QUANTILE_Z * sigma[i])
        elif i > 0:
            t0[i] = t0[i - 1] + habits["spacing"] * rng.lognormal(0, 0.25)
    # Place the virtual targets' lower-left corner inside the tablet (SVC2004: x 449.., y 0..).
    targets = np.vstack([[0.0, 0.0], np.cumsum(chords, axis=0)])
    x0 = rng.uniform(500, 2500) - targets[:, 0].min()
    y0 = rng.uniform(800, 2500) - targets[:, 1].min()
    return SigmaLognormal.create(t0, mu, sigma, length, angle - turn / 2, angle + turn / 2,
                                 air=air, x0=x0, y0=y0)


# --- variation: genuine signatures ---------------------------------------------------

GENUINE_SPREAD = dict(tempo=0.10, size=0.06, tilt=0.04, onset=0.10, mu=0.07, sigma=0.08, D=0.08, theta=0.08)
"""Standard deviations: log-scale for tempo, size, onset, sigma, D; radians for tilt, theta."""


def _vary_genuine(p: SigmaLognormal, rng: np.random.Generator) -> SigmaLognormal:
    """Intra-writer variability: small jitter of every parameter, global tempo, size, slant."""
    n = len(p)
    g = GENUINE_SPREAD
    tempo, size, tilt = rng.lognormal(0, g["tempo"]), rng.lognormal(0, g["size"]), rng.normal(0, g["tilt"])
    return p.replace(
        t0=warp_onsets(p.t0, tempo * rng.lognormal(0, g["onset"], n)),
        mu=p.mu + np.log(tempo) + rng.normal(0, g["mu"], n),
        sigma=np.clip(p.sigma * rng.lognormal(0, g["sigma"], n), 0.05, 1.2),
        D=p.D * size * rng.lognormal(0, g["D"], n),
        theta_s=p.theta_s + tilt + rng.normal(0, g["theta"], n),
        theta_e=p.theta_e + tilt + rng.normal(0, g["theta"], n),
        x0=p.x0 + rng.normal(0, 300), y0=p.y0 + rng.normal(0, 300))
