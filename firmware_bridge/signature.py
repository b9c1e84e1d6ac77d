"""The signature data model: pen samples with named channels.

Two records, both immutable:

* ``Sample`` - one pen report as a pad sends it (time, position, pressure,
  pen state, optional tilt). Decoders yield these.
* ``Signature`` - a whole signature as channel arrays (read-only numpy), with
  its source and a record of every repair made while reading it (``notes``).
  Nothing is fixed silently: a reader that sorts timestamps says so in notes.

Units: time in milliseconds (any origin); x and y in the pad's own units (any
scale and offset - preprocessing normalises both) with x growing rightward and
y growing *upward*, as in SVC2004 (a decoder for a pad whose y grows downward
flips it); pressure normalised to 0..1, or absent (``None``) for pads that
have none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from .errors import SignatureError

MIN_POINTS = 10
"""Fewer pen-down samples than this cannot be a signature (0.1 s at 100 Hz)."""

MIN_DURATION_MS = 50.0
MAX_DURATION_MS = 60_000.0
"""SVC2004 has one 32.8 s signature (a 27.7 s pause); a minute is absurd."""

MIN_USABLE_MS = 300.0
"""A pen-down span shorter than this is a valid signature but too little to judge."""

Floats = npt.NDArray[np.float64]
"""A channel of numbers (time, position, pressure, tilt)."""
Bools = npt.NDArray[np.bool_]
"""A channel of flags (pen down)."""
_Scalar = TypeVar("_Scalar", bound=np.generic)


class Sample(NamedTuple):
    """One pen report. ``pressure`` is 0..1 or None when the pad has none."""

    t_ms: float
    x: float
    y: float
    pressure: float | None = None
    pen_down: bool = True
    tilt_x: float | None = None
    tilt_y: float | None = None

    def __repr__(self) -> str:
        p = "-" if self.pressure is None else f"{self.pressure:.3f}"
        state = "down" if self.pen_down else "up"
        return f"Sample(t={self.t_ms:.1f}ms x={self.x:g} y={self.y:g} p={p} {state})"


def _frozen(values: npt.ArrayLike, dtype: type[_Scalar]) -> npt.NDArray[_Scalar]:
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class Signature:
    """A signature: equal-length channel arrays plus provenance.

    Build one with ``Signature.create`` (validates) or ``from_samples``.
    """

    t_ms: Floats
    x: Floats
    y: Floats
    pen_down: Bools
    pressure: Floats | None = None
    azimuth: Floats | None = None
    altitude: Floats | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def create(cls, t_ms: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike,
               pen_down: npt.ArrayLike | None = None, pressure: npt.ArrayLike | None = None,
               azimuth: npt.ArrayLike | None = None, altitude: npt.ArrayLike | None = None,
               source: str = "", notes: Iterable[str] = ()) -> Signature:
        """Build and validate a signature; raises ``SignatureError``."""
        t = _frozen(t_ms, np.float64)
        if pen_down is None:
            pen_down = np.ones(len(t), dtype=bool)

        def optional(values: npt.ArrayLike | None) -> Floats | None:
            return None if values is None else _frozen(values, np.float64)

        sig = cls(
            t_ms=t, x=_frozen(x, np.float64), y=_frozen(y, np.float64),
            pen_down=_frozen(pen_down, np.bool_), pressure=optional(pressure),
            azimuth=optional(azimuth), altitude=optional(altitude),
            source=source, notes=tuple(notes),
        )
        sig.validate()
        return sig

    @classmethod
    def from_samples(cls, samples: Iterable[Sample], source: str = "") -> Signature:
        """Collect decoded samples into a validated signature."""
        rows = list(samples)
        if not rows:
            raise SignatureError(f"{source or 'signature'}: no samples")
        pressure = [s.pressure for s in rows if s.pressure is not None]
        return cls.create(
            t_ms=[s.t_ms for s in rows], x=[s.x for s in rows], y=[s.y for s in rows],
            pen_down=[s.pen_down for s in rows],
            pressure=pressure if len(pressure) == len(rows) else None, source=source)

    # --- validation -------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``SignatureError`` naming the first problem found."""
        name = self.source or "signature"
        n = len(self.t_ms)
        for ch, arr in self.channels().items():
            if len(arr) != n:
                raise SignatureError(f"{name}: channel {ch} has {len(arr)} values, time has {n}")
            if arr.dtype != bool and not np.all(np.isfinite(arr)):
                raise SignatureError(f"{name}: channel {ch} has non-finite values")
        down = int(np.count_nonzero(self.pen_down))
        if down < MIN_POINTS:
            raise SignatureError(f"{name}: {down} pen-down points, at least {MIN_POINTS} needed")
        if np.any(np.diff(self.t_ms) < 0):
            raise SignatureError(f"{name}: timestamps go backwards")
        dur = self.duration_ms
        if not MIN_DURATION_MS <= dur <= MAX_DURATION_MS:
            raise SignatureError(
                f"{name}: duration {dur:.0f} ms outside {MIN_DURATION_MS:.0f}..{MAX_DURATION_MS:.0f} ms")
        xd, yd = self.x[self.pen_down], self.y[self.pen_down]
        if np.ptp(xd) == 0 and np.ptp(yd) == 0:
            raise SignatureError(f"{name}: zero extent (every pen-down point at one place)")
        if self.pressure is not None and (self.pressure.min() < 0 or self.pressure.max() > 1):
            raise SignatureError(f"{name}: pressure outside 0..1")

    # --- views ---------------------------------------------------------------------

    def channels(self) -> dict[str, Floats | Bools]:
        """The channels present, by name."""
        out: dict[str, Floats | Bools] = {"t_ms": self.t_ms, "x": self.x, "y": self.y, "pen_down": self.pen_down}
        for k in ("pressure", "azimuth", "altitude"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out

    def samples(self) -> Iterator[Sample]:
        """The signature as a stream of ``Sample`` records, in time order."""
        p = self.pressure
        for i in range(len(self)):
            yield Sample(float(self.t_ms[i]), float(self.x[i]), float(self.y[i]),
                         None if p is None else float(p[i]), bool(self.pen_down[i]))

    @property
    def duration_ms(self) -> float:
        return float(self.t_ms[-1] - self.t_ms[0]) if len(self.t_ms) else 0.0

    @property
    def has_pressure(self) -> bool:
        return self.pressure is not None

    @property
    def n_strokes(self) -> int:
        """Pen-down runs, counting a pause of over 3 sample periods as a lift."""
        down = self.pen_down
        starts = np.count_nonzero(down[1:] & ~down[:-1]) + int(down[0])
        dt = np.diff(self.t_ms)
        step = np.median(dt[dt > 0]) if np.any(dt > 0) else 1.0
        gaps = np.count_nonzero((dt > 3 * step) & down[1:] & down[:-1])
        return int(starts + gaps)

    def __len__(self) -> int:
        return len(self.t_ms)

    def __repr__(self) -> str:
        chans = ",".join(k for k in ("pressure", "azimuth", "altitude") if getattr(self, k) is not None)
        src = f" source={self.source!r}" if self.source else ""
        return (f"<Signature {len(self)} pts {self.duration_ms / 1000:.2f}s "
                f"{self.n_strokes} strokes{' +' + chans if chans else ''}{src}>")


def too_short(down_points: int, span_ms: float, min_points: int = MIN_POINTS,
              min_duration_ms: float = MIN_USABLE_MS) -> str | None:
    """Why ``down_points`` pen-down samples over ``span_ms`` are too short to judge, or None.

    The one "usable signature" rule. The pad's capture refuses such a
    signature (with its configured limits, ``CaptureConfig``); the verifier
    refuses one from a file, which never went through a pad
    (``check_usable``, the default limits).
    """
    if down_points < min_points or span_ms < min_duration_ms:
        return (f"too short ({down_points} points, {span_ms:.0f} ms; "
                f"need {min_points} points and {min_duration_ms:.0f} ms)")
    return None


def check_usable(sig: Signature) -> None:
    """Raise ``SignatureError`` when ``sig`` is too short to judge (``too_short``)."""
    problem = too_short(int(np.count_nonzero(sig.pen_down)), sig.duration_ms)
    if problem is not None:
        raise SignatureError(f"{sig.source or 'signature'}: {problem}")
