"""Samples to signatures: where a signature starts, ends, or is refused.

``SignatureCapture`` is a small state machine with no I/O and no clock of its
own; the caller passes ``now`` (host seconds), so tests drive it directly.

* It starts at the first pen-down sample (hovering before that is ignored).
* It ends when the pen has not been down for ``lift_timeout_s`` (the pen is
  up or out of proximity, or the pad went quiet), on the pad's ``Done``
  message, or on ``request_end()``. Trailing pen-up samples are trimmed.
* It is refused, with a ``Refusal`` saying why, when too short, too long, or
  broken by a disconnect (``abort``). A too-long signature is refused as soon
  as it passes the limit; samples are then ignored until the pen has been
  lifted for ``lift_timeout_s``, so the rest is not taken for a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .errors import CaptureError, SignatureError
from .protocols.base import Done
from .signature import (MAX_DURATION_MS, MIN_DURATION_MS, MIN_POINTS, MIN_USABLE_MS, Sample, Signature,
                        too_short)

TOO_SHORT, TOO_LONG, DISCONNECTED, INVALID = "too_short", "too_long", "disconnected", "invalid"


@dataclass(frozen=True)
class CaptureConfig:
    """When a signature ends and what is refused. Durations of the pen-down span."""

    lift_timeout_s: float = 1.5
    min_points: int = MIN_POINTS
    min_duration_ms: float = MIN_USABLE_MS
    max_duration_ms: float = 30_000.0

    def __post_init__(self):
        if not (self.lift_timeout_s > 0 and self.min_points >= MIN_POINTS
                and MIN_DURATION_MS <= self.min_duration_ms < self.max_duration_ms <= MAX_DURATION_MS):
            raise ValueError(f"inconsistent capture settings: {self}")


class Refusal(NamedTuple):
    """A signature that was not accepted; ``kind`` is one of too_short,
    too_long, disconnected, invalid and ``reason`` says it for a person."""

    kind: str
    reason: str
    n_samples: int = 0
    duration_ms: float = 0.0

    def error(self) -> CaptureError:
        """The refusal as an exception, for callers that prefer to raise."""
        return CaptureError(self.reason)

    def __repr__(self) -> str:
        return f"<Refusal {self.kind}: {self.reason}>"


class SignatureCapture:
    """Feed samples and ticks; get a ``Signature`` or ``Refusal`` when one ends."""

    def __init__(self, config: CaptureConfig = CaptureConfig(), source: str = "pad"):
        self.config = config
        self.source = source
        self.count = 0
        self._samples: list[Sample] = []
        self._last_down = 0.0          # host time of the last pen-down sample
        self._discarding = False       # after a too-long refusal, until a lift

    @property
    def active(self) -> bool:
        """A signature is in progress."""
        return bool(self._samples)

    def deadline(self) -> float | None:
        """Host time at which ``tick`` will end the current signature, if any."""
        if self._samples or self._discarding:
            return self._last_down + self.config.lift_timeout_s
        return None

    def feed(self, item, now: float):
        """A ``Sample`` or a ``Done``; returns a finished Signature/Refusal or None."""
        if isinstance(item, Done):
            return self._finish("done") if self._samples else None
        if not isinstance(item, Sample):
            return None
        ended = self.tick(now)          # a long silence ended the last one first
        if item.pen_down:
            self._last_down = now
        if self._discarding:
            return ended
        if self._samples or item.pen_down:
            self._samples.append(item)
            span = item.t_ms - self._samples[0].t_ms
            if span > self.config.max_duration_ms:
                return self._refuse_long(span)
        return ended

    def tick(self, now: float):
        """Time passed with no sample: ends the signature after the lift timeout."""
        d = self.deadline()
        if d is None or now < d:
            return None
        if self._discarding:
            self._discarding = False
            return None
        return self._finish("lift")

    def request_end(self):
        """The host says the signature is over (e.g. an OK button on screen)."""
        return self._finish("host") if self._samples else None

    def abort(self, why: str = "pad disconnected"):
        """The stream broke (disconnect); a signature in progress is refused."""
        self._discarding = False
        if not self._samples:
            return None
        rows, self._samples = self._samples, []
        return self._refusal(DISCONNECTED, f"signature broken off: {why}", rows)

    # --- internals -------------------------------------------------------------

    def _refuse_long(self, span: float) -> Refusal:
        rows, self._samples = self._samples, []
        self._discarding = True
        return self._refusal(TOO_LONG, f"longer than {self.config.max_duration_ms / 1000:g} s; "
                             "lift the pen and sign again", rows, span)

    def _finish(self, how: str):
        rows, self._samples = self._samples, []
        while rows and not rows[-1].pen_down:
            rows.pop()                  # hovering after the last stroke is not signature
        down = sum(1 for s in rows if s.pen_down)
        span = rows[-1].t_ms - rows[0].t_ms if rows else 0.0
        problem = too_short(down, span, self.config.min_points, self.config.min_duration_ms)
        if problem is not None:
            return self._refusal(TOO_SHORT, problem, rows, span)
        self.count += 1
        try:
            return Signature.from_samples(rows, source=f"{self.source}#{self.count}")
        except SignatureError as exc:
            return self._refusal(INVALID, str(exc), rows, span)

    @staticmethod
    def _refusal(kind: str, reason: str, rows: list, span: float | None = None) -> Refusal:
        if span is None:
            span = rows[-1].t_ms - rows[0].t_ms if rows else 0.0
        return Refusal(kind, reason, len(rows), span)
