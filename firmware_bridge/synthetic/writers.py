"""Synthetic signature writers: genuine signatures and skilled forgeries, no dataset needed.

A writer is a sigma-lognormal template (``sigmalognormal.SigmaLognormal``) and a
pen style (pressure, tilt). Every signature is drawn from its own random stream,
``numpy.random.default_rng([domain, writer seed, kind, index])``, so
``make_writer(s).genuine(i)`` is the same on every machine and in any order.

* ``make_writer(seed)``: a random template built from virtual target points
  (up-down letter strokes that progress rightwards, dots and bars, pen lifts),
  scaled to SVC2004 sizes. The ranges are listed in ``docs/synthetic.md``.
* ``Writer.genuine(i)``: the template with small perturbations of every stroke
  parameter and of global tempo, size and slant, in the spirit of the
  sigma-lognormal duplicators (Diaz et al., IEEE T-Cyb 2018).
* ``Writer.forgery(i)``: one of four forgers, each with their own traits, copying
  the shape with errors but not the dynamics: slower and more uniform strokes,
  pauses, extra pen lifts, their own pressure.
* ``Writer.from_signature(sig)``: a writer whose template is fitted to a real
  signature, so real writers can be varied and forged too.

Output: pen-down samples only (pen-up movement is not sampled, as in SVC2004),
time in ms from 0, x and y in tablet units (y up), pressure in 0..1, and a
constant-ish azimuth and altitude in SVC2004's units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import SynthesisError
from .sigmalognormal import AIR_Z, QUANTILE_Z, SigmaLognormal, air_log_scale, extract, pen_down_times, trajectory, velocity
from ..signature import Signature

_DOMAIN = 0x5167_5AD  # keeps these streams apart from any other use of the seed
_GENUINE, _FORGER, _FORGERY, _TEMPLATE, _GENUINE_PEN = 1, 2, 3, 4, 5
FORGERS = 4
"""SVC2004's 20 skilled forgeries of a user come from several other contributors."""


@dataclass(frozen=True)
class PenStyle:
    pressure: float = 0.6       # plateau pressure, 0..1
    speed_relief: float = 0.15  # fraction of pressure lost at the fastest point
    azimuth: float = 900.0      # SVC2004 units (0..1840 seen)
    altitude: float = 600.0     # SVC2004 units (280..900 seen)
    wave: float = 0.1           # slow pressure swell, fraction of the plateau
    wave_hz: float = 0.6
    wave_phase: float = 0.0


@dataclass(frozen=True, eq=False)
class Writer:
    seed: int
    template: SigmaLognormal
    style: PenStyle = PenStyle()
    source: str = "synthetic"
    fit_snr_db: float | None = None  # for writers fitted to a real signature

    def genuine_params(self, index: int) -> SigmaLognormal:
        return _vary_genuine(self.template, _rng(self.seed, _GENUINE, _check_index(index)))

    def forgery_params(self, index: int) -> tuple[SigmaLognormal, PenStyle]:
        forger = _forger(self, _check_index(index) // 5 % FORGERS)
        rng = _rng(self.seed, _FORGERY, index)
        return _forge(self.template, forger, rng), _vary_pen(forger.style, rng)

    def genuine(self, index: int, rate_hz: float = 100.0) -> Signature:
        style = _vary_pen(self.style, _rng(self.seed, _GENUINE_PEN, _check_index(index)))
        return render(self.genuine_params(index), style, rate_hz,
                      source=f"{self.source}:{self.seed}:genuine:{index}")

    def forgery(self, index: int, rate_hz: float = 100.0) -> Signature:
        params, style = self.forgery_params(index)
        return render(params, style, rate_hz, source=f"{self.source}:{self.seed}:forgery:{index}")

    @classmethod
    def from_signature(cls, sig: Signature, seed: int = 0) -> "Writer":
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


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthesisError(f"writer seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _check_index(index) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise SynthesisError(f"signature index must be an int >= 0, got {index!r}")
    return int(index)


def _rng(seed: int, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng([_DOMAIN, seed, kind, index])


# --- rendering --------------------------------------------------------------------

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


def _pressure(t, speed, style: PenStyle, rate_hz: float) -> np.ndarray:
    """A plateau per pen-down run that builds on landing, fades on lifting, eases at speed."""
    run = np.r_[0, np.cumsum(np.diff(t) > 1.5 / rate_hz)]
    starts = np.r_[0, np.flatnonzero(np.diff(run)) + 1]
    ends = np.r_[starts[1:] - 1, len(t) - 1]
    since_land, to_lift = t - t[starts[run]], t[ends[run]] - t
    ramp = np.clip(np.minimum(since_land, to_lift) / 0.04, 0.0, 1.0)
    relief = 1.0 - style.speed_relief * speed / max(float(speed.max()), 1e-9)
    swell = 1.0 + style.wave * np.sin(2 * np.pi * style.wave_hz * (t - t[0]) + style.wave_phase)
    return np.clip(style.pressure * (0.4 + 0.6 * ramp) * relief * swell, 0.02, 1.0)


def _vary_pen(style: PenStyle, rng) -> PenStyle:
    """One signature's pen: the plateau and the swell's timing vary a little."""
    return replace(style, pressure=float(np.clip(style.pressure * rng.lognormal(0, 0.08), 0.1, 1.0)),
                   wave_phase=style.wave_phase + rng.normal(0, 0.6))


# --- random templates ------------------------------------------------------------

def _random_template(rng: np.random.Generator) -> SigmaLognormal:
    """Virtual targets -> chords -> strokes, with writer-level tempo and shape habits."""
    habits = dict(
        strokes_per_part=rng.uniform(2.0, 6.0), mark_chance=rng.uniform(0.1, 0.35),
        progress=rng.uniform(0.05, 0.25), slant=rng.uniform(-0.3, 0.4), loopiness=rng.uniform(0.0, 0.15),
        spacing=rng.uniform(0.045, 0.08), mu=np.log(rng.uniform(0.08, 0.14)),
        sigma=rng.uniform(0.2, 0.35), gap=rng.uniform(0.06, 0.12), min_strokes=rng.uniform(14, 24))
    n_parts = 1 + min(int(rng.negative_binomial(3, 0.4)), 15)
    # Few pen lifts mean long cursive parts: a name takes a dozen strokes or more.
    habits["strokes_per_part"] = max(habits["strokes_per_part"], habits["min_strokes"] / n_parts)
    chords, air, timing = [], [], []
    for part in range(n_parts):
        part_chords = _part_chords(rng, habits)
        chords += part_chords
        air += [False] * len(part_chords)
        if part < n_parts - 1:
            chords.append(_lift_chord(rng, np.sum(chords, axis=0)))
            air.append(True)
    chords = _scale_chords(rng, np.array(chords), np.array(air))
    return _strokes_from_chords(rng, chords, np.array(air), habits)


def _part_chords(rng, habits) -> list:
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


def _lift_chord(rng, here) -> np.ndarray:
    """The pen-up jump: usually on to the next letter, sometimes back (dots, bars)."""
    dx = -rng.uniform(0.3, 2.0) if rng.random() < 0.3 else rng.uniform(0.2, 1.2)
    return np.array([dx, -0.7 * here[1] + rng.normal(0, 0.3)])  # drift back to the baseline


def _scale_chords(rng, chords, air) -> np.ndarray:
    """Stretch to a sampled signature size (SVC2004 Task2: width ~5900, height ~3300)."""
    points = np.vstack([[0, 0], np.cumsum(chords, axis=0)])
    down = np.r_[~air, False] | np.r_[False, ~air]  # ends of pen-down chords
    extent = np.maximum(np.ptp(points[down], axis=0), 0.3)
    width = float(np.clip(rng.lognormal(np.log(5900), 0.35), 2000, 11000))
    height = width * float(np.clip(rng.lognormal(np.log(0.55), 0.35), 0.2, 1.2))
    return chords * np.array([width, height]) / extent


def _strokes_from_chords(rng, chords, air, habits) -> SigmaLognormal:
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

def _warp_onsets(t0: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Stretch the intervals between successive onsets (in time order) by factors."""
    order = np.argsort(t0, kind="stable")
    steps = np.diff(t0[order]) * factors[1:]
    out = np.empty_like(t0)
    out[order] = t0[order][0] + np.r_[0.0, np.cumsum(steps)]
    return out


GENUINE_SPREAD = dict(tempo=0.10, size=0.06, tilt=0.04, onset=0.10, mu=0.07, sigma=0.08, D=0.08, theta=0.08)
"""Standard deviations: log-scale for tempo, size, onset, sigma, D; radians for tilt, theta."""


def _vary_genuine(p: SigmaLognormal, rng) -> SigmaLognormal:
    """Intra-writer variability: small jitter of every parameter, global tempo, size, slant."""
    n = len(p)
    g = GENUINE_SPREAD
    tempo, size, tilt = rng.lognormal(0, g["tempo"]), rng.lognormal(0, g["size"]), rng.normal(0, g["tilt"])
    return p.replace(
        t0=_warp_onsets(p.t0, tempo * rng.lognormal(0, g["onset"], n)),
        mu=p.mu + np.log(tempo) + rng.normal(0, g["mu"], n),
        sigma=np.clip(p.sigma * rng.lognormal(0, g["sigma"], n), 0.05, 1.2),
        D=p.D * size * rng.lognormal(0, g["D"], n),
        theta_s=p.theta_s + tilt + rng.normal(0, g["theta"], n),
        theta_e=p.theta_e + tilt + rng.normal(0, g["theta"], n),
        x0=p.x0 + rng.normal(0, 300), y0=p.y0 + rng.normal(0, 300))


# --- variation: skilled forgeries ---------------------------------------------------------

@dataclass(frozen=True)
class Forger:
    slowness: float      # stroke durations and onset intervals stretch by this
    uniformity: float    # 0..1: how far stroke sigmas pull to the forger's own
    sigma: float
    pause_chance: float  # per stroke: stop (pen down) before it
    lift_chance: float   # per stroke: lift the pen before it
    shape_error: float   # radians of direction error per stroke
    style: PenStyle


def _forger(writer: Writer, forger_id: int) -> Forger:
    rng = _rng(writer.seed, _FORGER, forger_id)
    s = writer.style
    style = PenStyle(pressure=float(np.clip(s.pressure * rng.uniform(0.6, 1.0), 0.15, 1.0)),
                     speed_relief=rng.uniform(0.0, 0.2), azimuth=rng.uniform(300, 1500),
                     altitude=rng.uniform(400, 800), wave=rng.uniform(0.05, 0.25),
                     wave_hz=rng.uniform(0.3, 1.2), wave_phase=rng.uniform(0, 6.3))
    return Forger(slowness=rng.uniform(1.0, 1.35), uniformity=rng.uniform(0.3, 0.8),
                  sigma=rng.uniform(0.25, 0.4), pause_chance=rng.uniform(0.03, 0.12),
                  lift_chance=rng.uniform(0.02, 0.08), shape_error=rng.uniform(0.06, 0.14), style=style)


def _forge(p: SigmaLognormal, f: Forger, rng) -> SigmaLognormal:
    """The shape copied with errors, the dynamics the forger's own."""
    n = len(p)
    slow = f.slowness * rng.lognormal(0, 0.08)
    size, tilt = rng.lognormal(0, 0.08), rng.normal(0, 0.05)
    forged = p.replace(
        t0=_warp_onsets(p.t0, slow * rng.lognormal(0, 0.2, n)),
        mu=p.mu + np.log(slow) + rng.normal(0, 0.1, n),
        sigma=np.clip((1 - f.uniformity) * p.sigma + f.uniformity * f.sigma * rng.lognormal(0, 0.1, n), 0.05, 1.2),
        D=p.D * size * rng.lognormal(0, 0.1, n),
        theta_s=p.theta_s + tilt + rng.normal(0, f.shape_error, n),
        theta_e=p.theta_e + tilt + rng.normal(0, f.shape_error, n),
        x0=p.x0 + rng.normal(0, 300), y0=p.y0 + rng.normal(0, 300))
    return _hesitate(forged, f, rng)


def _hesitate(p: SigmaLognormal, f: Forger, rng) -> SigmaLognormal:
    """Insert pauses (pen down) and extra lifts before some pen-down strokes."""
    order = [i for i in np.argsort(p.t0, kind="stable")[1:] if not p.air[i]]
    extra = []
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
