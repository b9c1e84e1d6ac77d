"""The sigma-lognormal model of handwriting: parameters, synthesis, extraction.

Plamondon's kinematic theory describes a pen movement as a sum of overlapping
strokes. Stroke i starts at ``t0_i`` (seconds); its speed is
``D_i * lognormal(t - t0_i; mu_i, sigma_i)`` and its direction turns from
``theta_s_i`` to ``theta_e_i`` in proportion to the stroke's progress (the
lognormal CDF). The pen velocity is the sum over strokes.

Because the direction is linear in the CDF ``u``, each stroke traces a circular
arc of length ``D`` and its displacement has a closed form, so positions need no
numerical integration: synthesis is a few vectorised ``erf`` calls.

Pen lifts are strokes too: an *air* stroke moves the pen between two pen-down
parts, and the pen is up while that stroke is between its ``mu - 3 sigma`` and
``mu + 3 sigma`` quantiles (0.13 % .. 99.87 % of its movement). Samples in those
intervals are not produced at all, as SVC2004 does not sample pen-up movement.
The signature begins at the earliest pen-down stroke's ``-2 sigma`` quantile
and ends at the latest one's ``+2 sigma`` quantile.

``extract`` goes the other way for a recorded signature (see ``_fit_segment``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SignatureError, SynthesisError
from ..signature import Bools, Floats, Signature

QUANTILE_Z = 2.0
"""A signature begins and ends this many sigmas from a pen-down stroke's log-median."""

AIR_Z = 3.0
"""The pen is up while an air stroke is within this many sigmas of its log-median
(0.13 % .. 99.87 % of the jump): a fast jump must not leak speed into the ink."""

SIGMA_RANGE = (0.02, 1.5)
MU_RANGE = (-6.0, 1.5)
"""exp(mu) from 2.5 ms to 4.5 s: anything outside is not a handwriting stroke."""

_FIELDS = ("t0", "mu", "sigma", "D", "theta_s", "theta_e")


def ndtr(z: npt.ArrayLike) -> Floats:
    """Standard normal CDF, numpy only (relative error < 1.2e-7).

    Synthesis runs on the device for the virtual pad, where scipy is not
    installed: this is the Chebyshev fit of erfc from Numerical Recipes
    (``erfcc``), with ndtr(z) = erfc(-z / sqrt 2) / 2. Extraction (offline)
    imports scipy where it needs it.
    """
    x = -np.asarray(z, dtype=np.float64) / np.sqrt(2.0)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc_a = t * np.exp(-a * a + poly)
    cdf: Floats = 0.5 * np.where(x >= 0, erfc_a, 2.0 - erfc_a)
    return cdf


@dataclass(frozen=True, eq=False)
class SigmaLognormal:
    """A whole signature's strokes (arrays, one entry per stroke) and start point."""

    t0: Floats
    mu: Floats
    sigma: Floats
    D: Floats
    theta_s: Floats
    theta_e: Floats
    air: Bools
    x0: float = 0.0
    y0: float = 0.0

    @classmethod
    def create(cls, t0: npt.ArrayLike, mu: npt.ArrayLike, sigma: npt.ArrayLike, D: npt.ArrayLike,
               theta_s: npt.ArrayLike, theta_e: npt.ArrayLike, *, air: npt.ArrayLike | None = None,
               x0: float = 0.0, y0: float = 0.0) -> SigmaLognormal:
        """Validated, read-only parameters; raises ``SynthesisError``."""
        t0_, mu_, sigma_, D_, theta_s_, theta_e_ = (
            _frozen(np.array(v, dtype=np.float64, ndmin=1)) for v in (t0, mu, sigma, D, theta_s, theta_e))
        air_ = _frozen(np.zeros(len(t0_), bool) if air is None else np.array(air, dtype=bool, ndmin=1))
        params = cls(t0_, mu_, sigma_, D_, theta_s_, theta_e_, air_, x0=float(x0), y0=float(y0))
        params.validate()
        return params

    def validate(self) -> None:
        n = len(self.t0)
        for name in _FIELDS + ("air",):
            arr = getattr(self, name)
            if arr.ndim != 1 or len(arr) != n:
                raise SynthesisError(f"{name} has shape {arr.shape}, expected ({n},)")
            if arr.dtype != bool and not np.all(np.isfinite(arr)):
                raise SynthesisError(f"{name} has non-finite values")
        if not np.isfinite(self.x0) or not np.isfinite(self.y0):
            raise SynthesisError("start point is not finite")
        if not np.any(~self.air):
            raise SynthesisError("no pen-down stroke: a signature needs at least one")
        _check_range("sigma", self.sigma, *SIGMA_RANGE)
        _check_range("mu", self.mu, *MU_RANGE)
        _check_range("D", self.D, 0.0, np.inf)

    def __len__(self) -> int:
        return len(self.t0)

    def replace(self, **changes: npt.ArrayLike) -> SigmaLognormal:
        """A validated copy with some fields changed."""
        fields: dict[str, Any] = {k: getattr(self, k) for k in _FIELDS + ("air", "x0", "y0")}
        fields.update(changes)
        return SigmaLognormal.create(**fields)

    def quantile_time(self, z: float) -> Floats:
        """Per stroke, the time its progress reaches the standard-normal quantile z."""
        return self.t0 + np.exp(self.mu + z * self.sigma)

    def pen_up_intervals(self) -> Floats:
        """(k, 2) array of [lift, land] times, one row per air stroke."""
        return np.column_stack([self.quantile_time(-AIR_Z)[self.air],
                                self.quantile_time(AIR_Z)[self.air]])

    def span(self) -> tuple[float, float]:
        """First and last pen-down instant (seconds)."""
        down = ~self.air
        return (float(self.quantile_time(-QUANTILE_Z)[down].min()),
                float(self.quantile_time(QUANTILE_Z)[down].max()))


_Array = npt.NDArray[Any]


def _frozen(arr: _Array) -> _Array:
    arr.setflags(write=False)
    return arr


def _check_range(name: str, arr: Floats, lo: float, hi: float) -> None:
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise SynthesisError(f"{name}[{i}] = {arr[i]:g} is outside {lo:g}..{hi:g}")


def warp_onsets(t0: Floats, factors: Floats) -> Floats:
    """Stretch the intervals between successive onsets (in time order) by factors."""
    order = np.argsort(t0, kind="stable")
    steps = np.diff(t0[order]) * factors[1:]
    out = np.empty_like(t0)
    out[order] = t0[order][0] + np.r_[0.0, np.cumsum(steps)]
    return out


# --- synthesis -------------------------------------------------------------------

def pen_down_times(params: SigmaLognormal, rate_hz: float) -> Floats:
    """Sample instants (s) on a regular grid at rate_hz, pen-up intervals left out."""
    if not np.isfinite(rate_hz) or not 10.0 <= rate_hz <= 10_000.0:
        raise SynthesisError(f"rate {rate_hz!r} Hz is outside 10..10000 Hz")
    begin, end = params.span()
    t = begin + np.arange(int(np.floor((end - begin) * rate_hz)) + 1) / rate_hz
    keep = np.ones(len(t), bool)
    for lift, land in params.pen_up_intervals():
        keep &= ~((t > lift) & (t < land))
    return t[keep]


def _progress(params: SigmaLognormal, t: Floats) -> tuple[Floats, Floats]:
    """Per stroke and instant: log-time z-score, CDF and pdf (strokes x times)."""
    lag = t[None, :] - params.t0[:, None]
    started = lag > 0
    log_lag = np.log(np.where(started, lag, 1.0))
    sigma = params.sigma[:, None]
    z = (log_lag - params.mu[:, None]) / sigma
    cdf = np.where(started, ndtr(z), 0.0)
    pdf = np.where(started, np.exp(-0.5 * z * z) / (sigma * np.sqrt(2 * np.pi) * np.where(started, lag, 1.0)), 0.0)
    return cdf, pdf


def trajectory(params: SigmaLognormal, t: Floats) -> tuple[Floats, Floats]:
    """Pen position (x, y) at times t: the exact sum of each stroke's arc so far."""
    cdf, _ = _progress(params, t)
    turn = (params.theta_e - params.theta_s)[:, None]
    mid = params.theta_s[:, None] + turn * cdf / 2
    # The chord of an arc turned by a: length * sin(a/2)/(a/2), stable at a = 0.
    chord = params.D[:, None] * cdf * np.sinc(turn * cdf / (2 * np.pi))
    return (params.x0 + (chord * np.cos(mid)).sum(axis=0),
            params.y0 + (chord * np.sin(mid)).sum(axis=0))


def velocity(params: SigmaLognormal, t: Floats) -> tuple[Floats, Floats]:
    """Pen velocity (vx, vy) in units per second at times t."""
    cdf, pdf = _progress(params, t)
    angle = params.theta_s[:, None] + (params.theta_e - params.theta_s)[:, None] * cdf
    speed = params.D[:, None] * pdf
    return (speed * np.cos(angle)).sum(axis=0), (speed * np.sin(angle)).sum(axis=0)


# --- extraction ----------------------------------------------------------------------

def snr_db(vx: Floats, vy: Floats, vx_hat: Floats, vy_hat: Floats) -> float:
    """Velocity reconstruction SNR in dB, as in O'Reilly & Plamondon (2009)."""
    signal = float(np.sum(np.square(vx) + np.square(vy)))
    noise = float(np.sum(np.square(vx - vx_hat) + np.square(vy - vy_hat)))
    return float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-300) / noise)


def observed_velocity(t: Floats, x: Floats, y: Floats, smooth_samples: float = 1.0) -> tuple[Floats, Floats]:
    """Velocity of one pen-down segment by central differences on lightly smoothed positions."""
    from scipy.ndimage import gaussian_filter1d  # offline only: see ndtr

    if smooth_samples > 0:
        x = gaussian_filter1d(x, smooth_samples, mode="nearest")
        y = gaussian_filter1d(y, smooth_samples, mode="nearest")
    return np.gradient(x, t), np.gradient(y, t)


Segment = tuple[Floats, Floats, Floats]
"""One pen-down stretch: times (s from the first pen-down sample), x, y."""


def split_segments(sig: Signature) -> list[Segment]:
    """Pen-down samples as (t_s, x, y) lists, one per stroke: cut at time gaps > 3 steps."""
    down = sig.pen_down
    t, x, y = sig.t_ms[down], sig.x[down], sig.y[down]
    dt = np.diff(t)
    step = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 10.0
    # Steps much shorter than the sampling period are timestamp glitches whose
    # differences would read as huge speeds: keep the first sample of each.
    distinct = np.r_[True, dt > 0.5 * step]
    t, x, y = (t[distinct] - t[distinct][0]) / 1000.0, x[distinct], y[distinct]
    dt, step = np.diff(t), step / 1000.0
    cuts = np.flatnonzero(dt > 3 * step) + 1
    return [(tt, xx, yy) for tt, xx, yy in zip(np.split(t, cuts), np.split(x, cuts), np.split(y, cuts))]


def extract(sig: Signature, smooth_samples: float = 1.0, target_snr_db: float = 25.0,
            max_extra_strokes: int = 2) -> tuple[SigmaLognormal, float]:
    """Fit sigma-lognormal parameters to a recorded signature; return (params, SNR dB).

    Each pen-down segment is fitted on its own (initial guesses at speed peaks,
    then least squares on the velocity vector, adding a stroke at the largest
    residual while the segment is below ``target_snr_db``). Pen lifts become air
    strokes that carry the pen exactly to where the next segment starts. Time
    zero is the signature's first pen-down sample.
    """
    segments = split_segments(sig)
    if sum(len(s[0]) for s in segments) < 2:
        raise SignatureError(f"{sig.source or 'signature'}: too few distinct samples to fit")
    rows, observed = [], []
    for t, x, y in segments:
        vx, vy = observed_velocity(t, x, y, smooth_samples) if len(t) > 1 else (np.zeros(1), np.zeros(1))
        rows.append(_fit_segment(t, vx, vy, target_snr_db, max_extra_strokes))
        observed.append((t, vx, vy))
    down = np.vstack(rows)
    params = SigmaLognormal.create(*down.T, air=np.zeros(len(down), bool))
    params = _add_lifts(params, segments)
    t_all = np.concatenate([o[0] for o in observed])
    vx_hat, vy_hat = velocity(params, t_all)
    quality = snr_db(np.concatenate([o[1] for o in observed]),
                     np.concatenate([o[2] for o in observed]), vx_hat, vy_hat)
    return params, quality


def air_log_scale(gap_s: float, sigma: float) -> float:
    """The mu of an air stroke (given sigma) that keeps the pen up for gap_s seconds."""
    return float(np.log(max(gap_s, 1e-3) / (np.exp(AIR_Z * sigma) - np.exp(-AIR_Z * sigma))))


def _add_lifts(params: SigmaLognormal, segments: list[Segment], air_sigma: float = 0.25) -> SigmaLognormal:
    """Air strokes spanning each gap, sized so the pen lands where the data lands."""
    t_first, x_first, y_first = segments[0][0][0], segments[0][1][0], segments[0][2][0]
    px, py = trajectory(params, np.array([t_first]))
    params = params.replace(x0=x_first - px[0] + params.x0, y0=y_first - py[0] + params.y0)
    for before, after in itertools.pairwise(segments):
        lift, land = before[0][-1], after[0][0]
        mu = air_log_scale(land - lift, air_sigma)
        t0 = lift - np.exp(mu - AIR_Z * air_sigma)
        px, py = trajectory(params, np.array([land]))
        gap_x, gap_y = after[1][0] - px[0], after[2][0] - py[0]
        done = ndtr(AIR_Z)  # the air stroke's progress at landing
        angle = np.arctan2(gap_y, gap_x)
        stroke = [t0, mu, air_sigma, np.hypot(gap_x, gap_y) / done, angle, angle]
        params = params.replace(**{k: np.r_[getattr(params, k), v] for k, v in zip(_FIELDS, stroke)},
                                air=np.r_[params.air, True])
    return params


def _fit_segment(t: Floats, vx: Floats, vy: Floats, target_snr_db: float, max_extra_strokes: int) -> Floats:
    """(n, 6) rows of [t0, mu, sigma, D, theta_s, theta_e] for one pen-down segment."""
    speed = np.hypot(vx, vy)
    guesses = _peak_guesses(t, vx, vy, speed)
    if len(t) < 4:
        return guesses
    rows = _least_squares(t, vx, vy, guesses)
    for _ in range(max_extra_strokes):
        rx, ry = _rows_velocity(rows, t)
        if snr_db(vx, vy, rx, ry) >= target_snr_db or len(rows) * 6 >= 2 * len(t):
            break
        residual = np.hypot(vx - rx, vy - ry)
        extra = _guess_at(t, vx - rx, vy - ry, residual, int(np.argmax(residual)))
        rows = _least_squares(t, vx, vy, np.vstack([rows, extra]))
    return rows


def _peak_guesses(t: Floats, vx: Floats, vy: Floats, speed: Floats) -> Floats:
    from scipy.signal import find_peaks

    padded = np.r_[0.0, speed, 0.0]  # a segment may start or end mid-movement
    peaks, _ = find_peaks(padded, prominence=0.05 * max(padded.max(), 1e-9))
    peaks = np.clip(peaks - 1, 0, len(speed) - 1)
    if len(peaks) == 0:
        peaks = np.array([int(np.argmax(speed))])
    return np.vstack([_guess_at(t, vx, vy, speed, p, peaks) for p in peaks])


def _guess_at(t: Floats, vx: Floats, vy: Floats, speed: Floats, p: int,
              peaks: npt.NDArray[np.intp] | None = None, sigma: float = 0.3) -> Floats:
    """A stroke centred on the speed peak at index p, bounded by the neighbouring minima."""
    others = np.asarray(peaks if peaks is not None else [p])
    left_peak = others[others < p].max() if np.any(others < p) else 0
    right_peak = others[others > p].min() if np.any(others > p) else len(t) - 1
    lo = left_peak + int(np.argmin(speed[left_peak:p + 1])) if p > left_peak else p
    hi = p + int(np.argmin(speed[p:right_peak + 1])) if right_peak > p else p
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.01
    width = max(t[hi] - t[lo], 4 * step)
    mu = np.log(width / (np.exp(1.5 * sigma) - np.exp(-1.5 * sigma)))
    t0 = t[p] - np.exp(mu - sigma ** 2)
    area = np.trapezoid(speed[lo:hi + 1], t[lo:hi + 1]) if hi > lo else speed[p] * width / 2
    D = max(area / 0.866, speed[p] * sigma * np.sqrt(2 * np.pi) * np.exp(mu - sigma ** 2 / 2) * 0.5)
    a, b = max(lo, (lo + p) // 2), min(hi, (p + hi) // 2)
    angles = np.unwrap(np.arctan2(vy[a:b + 1], vx[a:b + 1]))
    mid = np.arctan2(vy[p], vx[p])
    turn = np.clip((angles[-1] - angles[0]) * 2.0, -np.pi, np.pi) if b > a else 0.0
    return np.array([t0, mu, sigma, D, mid - turn / 2, mid + turn / 2])


def _rows_velocity(rows: Floats, t: Floats) -> tuple[Floats, Floats]:
    t0, mu, sigma, D, theta_s, theta_e = rows.T
    params = SigmaLognormal(t0, mu, sigma, D, theta_s, theta_e, air=np.zeros(len(rows), bool))
    return velocity(params, t)


def _least_squares(t: Floats, vx: Floats, vy: Floats, guesses: Floats) -> Floats:
    """Refine all strokes of a segment jointly on the velocity vector."""
    from scipy.optimize import least_squares

    n = len(guesses)
    # Bounds: the range of handwriting strokes (exp(mu) 18 ms .. 0.6 s, sigma 0.08 .. 0.6),
    # and no stroke longer than twice the segment's whole path (cancelling giants).
    path = float(np.trapezoid(np.hypot(vx, vy), t))
    lo = np.tile([-np.inf, -4.0, 0.08, 0.0, -np.inf, -np.inf], n)
    hi = np.tile([np.inf, -0.5, 0.6, 2 * path + 1.0, np.inf, np.inf], n)
    hi[0::6] = t[-1]  # a stroke must start before the segment ends
    start = np.clip(guesses.ravel(), lo + 1e-9, np.where(np.isfinite(hi), hi - 1e-9, hi))
    scale = max(float(np.max(np.hypot(vx, vy))), 1e-9)

    step = float(np.median(np.diff(t)))

    def residual(theta: Floats) -> Floats:
        rows = theta.reshape(n, 6)
        rx, ry = _rows_velocity(rows, t)
        # Movement outside the segment would leak into its neighbours: penalise
        # more than the few per cent that a stroke's tails naturally carry.
        inside = _rows_progress(rows, t[-1] + 2 * step) - _rows_progress(rows, t[0] - 2 * step)
        leak = rows[:, 3] * np.maximum(0.0, 0.95 - inside) / max(path, 1.0) * np.sqrt(len(t))
        scaled: Floats = np.r_[(rx - vx) / scale, (ry - vy) / scale, leak]
        return scaled

    fit = least_squares(residual, start, bounds=(lo, hi), x_scale="jac", ftol=1e-6, xtol=1e-6,
                        max_nfev=10 * n + 40, jac_sparsity=_sparsity(t, guesses))
    rows: Floats = fit.x.reshape(n, 6)   # scipy is untyped: fit.x is the refined theta
    return rows


def _rows_progress(rows: Floats, at: float) -> Floats:
    lag = at - rows[:, 0]
    progress: Floats = np.where(lag > 0, ndtr((np.log(np.maximum(lag, 1e-12)) - rows[:, 1]) / rows[:, 2]), 0.0)
    return progress


def _sparsity(t: Floats, guesses: Floats) -> npt.NDArray[np.int_]:
    """Which samples each stroke can move: its guessed span plus a margin.

    Finite differences then perturb strokes that do not overlap together,
    which cuts the cost of a Jacobian from 6n model runs to about 6 x overlap.
    """
    begin = guesses[:, 0] - 0.15
    end = guesses[:, 0] + np.exp(guesses[:, 1] + 3.0 * guesses[:, 2]) + 0.25
    touches = (t[None, :] >= begin[:, None]) & (t[None, :] <= end[:, None])
    per_sample = np.repeat(touches.T, 6, axis=1)  # samples x (strokes * 6)
    return np.vstack([per_sample, per_sample, np.repeat(np.eye(len(guesses)), 6, axis=1)]).astype(int)
