"""Samples to signatures: where a signature starts, ends, or is refused.

``SignatureCapture`` is a small state machine with no I/O and no clock of its
own; the caller passes ``now`` (host seconds), so tests drive it directly.

* It starts at the first pen-down sample (hovering before that is ignored).
* It ends when the pen has not been down for ``lift_timeout_s`` (the pen is
  up or out of proximity, or the pad went quiet), on the pad's ``Done``
  message, or on ``request_end()``. Trailing pen-up samples are trimmed.
* It is refused, with a ``Refusal`` saying why, when too short, too long, or
  broken by a disconnect (``abort``). A too-long signature is refused as soon
  as it passes a limit; samples are then ignored until the pen has been
  lifted for ``lift_timeout_s``, so the rest is not taken for a new one.
  "Too long" has four hard limits, so that no pad can make the host hold an
  unbounded capture: the pad's own time span, the number of samples, the
  bytes read (``received``) and the host's wall clock (a pad whose clock
  barely moves would pass the first).
* It is refused as ``damaged`` when the stream reported ``Damage`` inside it
  (or within ``lift_timeout_s`` before its first pen-down, where a lost
  report may have been its start): a signature with a hole or a spike in it
  is not judged, the writer is asked to sign again. ``Refusal.damage`` holds
  the counts by kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from .errors import SignatureError
from .pad_events import StreamEvent
from .protocols.base import Damage, Done
from .signature import MAX_DURATION_MS, MIN_DURATION_MS, MIN_POINTS, MIN_USABLE_MS, Sample, Signature, too_short

TOO_SHORT, TOO_LONG, DISCONNECTED, INVALID = "too_short", "too_long", "disconnected", "invalid"
DAMAGED = "damaged"


@dataclass(frozen=True)
class CaptureConfig:
    """When a signature ends and what is refused. Durations of the pen-down span."""

    lift_timeout_s: float = 1.5
    min_points: int = MIN_POINTS
    min_duration_ms: float = MIN_USABLE_MS
    max_duration_ms: float = 30_000.0   # the pad's time
    max_samples: int = 30_000           # 30 s at 1 kHz
    max_bytes: int = 1_000_000          # about 70 000 sigpad samples, 110 000 ISDV4 ones
    max_wall_s: float = 40.0            # the host's clock, from the first pen-down

    def __post_init__(self) -> None:
        if not (self.lift_timeout_s > 0 and self.min_points >= MIN_POINTS
                and MIN_DURATION_MS <= self.min_duration_ms < self.max_duration_ms <= MAX_DURATION_MS
                and self.max_samples >= self.min_points and self.max_bytes > 0
                and self.max_wall_s * 1000 >= self.min_duration_ms):
            raise ValueError(f"inconsistent capture settings: {self}")


HOST_END_LIFT_S = 0.25
"""The host's OK ends a signature only once the pen has been up this long (a stroke's gap is shorter)."""

DEFAULT_CAPTURE = CaptureConfig()
"""The capture settings a pad gets unless told otherwise."""


class Refusal(NamedTuple):
    """A signature that was not accepted; ``kind`` is one of too_short,
    too_long, disconnected, invalid, damaged and ``reason`` says it for a
    person. ``damage``: (kind, count) pairs of what the stream reported."""

    kind: str
    reason: str
    n_samples: int = 0
    duration_ms: float = 0.0
    damage: tuple[tuple[str, int], ...] = ()

    def __repr__(self) -> str:
        return f"<Refusal {self.kind}: {self.reason}>"


class SignatureCapture:
    """Feed samples, damage and ticks; get a ``Signature`` or ``Refusal`` when one ends."""

    def __init__(self, config: CaptureConfig = DEFAULT_CAPTURE, source: str = "pad"):
        self.config = config
        self.source = source
        self.count = 0
        self._samples: list[Sample] = []
        self._last_down = 0.0          # host time of the last pen-down sample
        self._started = 0.0            # host time of the first pen-down sample
        self._bytes = 0                # bytes read since the signature started
        self._damage: dict[str, int] = {}
        self._recent_damage: list[tuple[float, Damage]] = []   # while idle: (host time, damage)
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

    def feed(self, item: StreamEvent, now: float) -> Signature | Refusal | None:
        """A ``Sample``, ``Damage`` or ``Done``; returns a finished Signature/Refusal or None."""
        if isinstance(item, Done):
            return self._finish("done") if self._samples else None
        if isinstance(item, Damage):
            self._damaged(item, now)    # damage never ends a signature: it marks one
            return None
        if not isinstance(item, Sample):
            return None
        ended = self.tick(now)          # a long silence ended the last one first
        if item.pen_down:
            self._last_down = now
        if self._discarding:
            return ended
        if self._samples or item.pen_down:
            if not self._samples:
                self._start(now)
            self._samples.append(item)
            span = item.t_ms - self._samples[0].t_ms
            if span > self.config.max_duration_ms:
                return self._refuse_long(f"longer than {self.config.max_duration_ms / 1000:g} s", span)
            if len(self._samples) > self.config.max_samples:
                return self._refuse_long(f"more than {self.config.max_samples} samples", span)
        return ended

    def received(self, n_bytes: int, now: float) -> Signature | Refusal | None:
        """``n_bytes`` were read at host time ``now``: the byte and wall-clock limits."""
        if not self._samples:
            return None
        self._bytes += n_bytes
        if self._bytes > self.config.max_bytes:
            return self._refuse_long(f"more than {self.config.max_bytes} bytes")
        return self._check_wall(now)

    def tick(self, now: float) -> Signature | Refusal | None:
        """Time passed with no sample: ends the signature after the lift timeout."""
        d = self.deadline()
        if d is None or now < d:
            return self._check_wall(now)
        if self._discarding:
            self._discarding = False
            return None
        return self._finish("lift")

    def request_end(self, now: float | None = None) -> Signature | Refusal | None:
        """The host says the signature is over (e.g. an OK button on screen).

        An OK while the pen is still on the pad cuts a signature in the
        middle: it is refused as too short, never judged, so pressing OK early
        cannot turn a genuine signature into a counted failure. "On the pad":
        a pen-down sample less than ``HOST_END_LIFT_S`` before host time
        ``now`` (a pad may go silent when the pen leaves, without a pen-up
        report), or, without ``now``, a last sample with the pen down."""
        if not self._samples:
            return None
        if self._samples[-1].pen_down if now is None else now - self._last_down < HOST_END_LIFT_S:
            rows, self._samples = self._samples, []
            return self._refusal(TOO_SHORT, "ended (OK) before the pen was lifted: sign again, then OK", rows)
        return self._finish("host")

    def abort(self, why: str = "pad disconnected") -> Refusal | None:
        """The stream broke (disconnect); a signature in progress is refused."""
        self._discarding = False
        if not self._samples:
            return None
        rows, self._samples = self._samples, []
        return self._refusal(DISCONNECTED, f"signature broken off: {why}", rows)

    # --- internals -------------------------------------------------------------

    def _start(self, now: float) -> None:
        self._started, self._bytes = now, 0
        # Damage just before the first pen-down may have eaten the signature's start.
        horizon = now - self.config.lift_timeout_s
        self._damage = {}
        for when, d in self._recent_damage:
            if when >= horizon:
                self._damage[d.kind] = self._damage.get(d.kind, 0) + d.n
        self._recent_damage.clear()

    def _damaged(self, d: Damage, now: float) -> None:
        if self._samples:
            self._damage[d.kind] = self._damage.get(d.kind, 0) + d.n
        elif not self._discarding:
            horizon = now - self.config.lift_timeout_s
            self._recent_damage = [r for r in self._recent_damage if r[0] >= horizon][-63:]
            self._recent_damage.append((now, d))

    def _check_wall(self, now: float) -> Refusal | None:
        if self._samples and now - self._started > self.config.max_wall_s:
            return self._refuse_long(f"longer than {self.config.max_wall_s:g} s on the host's clock")
        return None

    def _refuse_long(self, what: str, span: float | None = None) -> Refusal:
        rows, self._samples = self._samples, []
        self._discarding = True
        return self._refusal(TOO_LONG, f"{what}; lift the pen and sign again", rows, span)

    def _finish(self, how: str) -> Signature | Refusal:
        rows, self._samples = self._samples, []
        while rows and not rows[-1].pen_down:
            rows.pop()                  # hovering after the last stroke is not signature
        down = sum(1 for s in rows if s.pen_down)
        span = rows[-1].t_ms - rows[0].t_ms if rows else 0.0
        if self._damage:
            damage = tuple(sorted(self._damage.items()))
            return Refusal(DAMAGED, f"damaged capture ({describe_damage(damage)}): sign again",
                           len(rows), span, damage)
        problem = too_short(down, span, self.config.min_points, self.config.min_duration_ms)
        if problem is not None:
            return self._refusal(TOO_SHORT, problem, rows, span)
        self.count += 1
        try:
            return Signature.from_samples(rows, source=f"{self.source}#{self.count}")
        except SignatureError as exc:
            return self._refusal(INVALID, str(exc), rows, span)

    @staticmethod
    def _refusal(kind: str, reason: str, rows: list[Sample], span: float | None = None) -> Refusal:
        if span is None:
            span = rows[-1].t_ms - rows[0].t_ms if rows else 0.0
        return Refusal(kind, reason, len(rows), span)


_DAMAGE_WORDS = {"lost": "frames lost", "pad-dropped": "samples dropped by the pad",
                 "range": "reports out of range", "jump": "impossible jumps",
                 "caps": "capabilities replies refused"}


def describe_damage(damage: Iterable[tuple[str, int]]) -> str:
    """``(("crc", 24), ("jump", 1))`` -> ``"24 bytes skipped (crc), 1 impossible jumps"``
    (any other kind is a decoder's reason for skipping bytes)."""
    return ", ".join(f"{n} {_DAMAGE_WORDS[k]}" if k in _DAMAGE_WORDS else f"{n} bytes skipped ({k})"
                     for k, n in damage)
