"""Bytes to ``Sample`` records: the stateful layer over a pure protocol decoder.

``SampleStream.feed(data, now)`` keeps the unfinished packet between calls,
converts ``PenReport`` events to ``Sample`` (time in ms, pressure 0..1 by the
pad's reported maximum) and counts everything in a shared ``Stats``.

Time: a pad with a clock (sigpad) gives microseconds in a 32-bit counter,
which we unwrap; pads without (ISDV4, Topaz) get the host's monotonic clock
at arrival. Reports out of proximity carry stale coordinates and are
counted but not passed on: capture ends signatures on the silence instead.

A stream that knows when it was damaged: next to the samples it emits a
``Damage`` event for every stretch it cannot vouch for, and capture refuses
a signature with one inside (``firmware_bridge.capture``). Damage is

* ``Skipped`` bytes (resync, CRC, invalid packets...), by the decoder's reason;
* ``lost`` frames (gaps in the pad's sequence numbers) and ``pad-dropped``
  samples (the pad's own STATUS counter went up);
* ``range``: a report beyond the pad's maxima (dropped, never a sample);
* ``jump``: a move no pen makes - faster than crossing the pad's diagonal
  in ``MIN_CROSSING_MS`` (kept, since which of the two reports is wrong is
  not known);
* ``caps``: a capabilities reply nobody asked for (``awaiting_caps`` is set
  by the host only while it waits for the answer to its query) or one
  outside the protocol's ``CapsBounds``. Refused replies change nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .pad_events import StreamEvent
from .protocols import get
from .protocols.base import Capabilities, Damage, Done, Event, FrameSeq, PenReport, Protocol, Skipped, Status
from .signature import Sample
from .stats import Stats
from .transport import READ_CHUNK

MAX_BUFFER = 64 * 1024
"""Undecoded bytes kept at most; decoders already bound it, this is a backstop."""

MIN_CROSSING_MS = 50.0
"""No pen crosses the whole pad diagonally faster than this (6 m/s on a
300 mm pad; handwriting peaks near 1 m/s). SVC2004's fastest step, at the
pads' rates, is under a third of the speed this allows."""

DEFAULT_PERIOD_MS = 5.0
"""Shortest time between two reports when the pad states no rate (200 Hz)."""


class SampleStream:
    """Feed bytes, get ``Sample``, ``Done``, ``Status``, ``Capabilities`` and ``Damage``."""

    def __init__(self, protocol: str | Protocol, stats: Stats | None = None,
                 clock: Callable[[], float] = time.monotonic, max_buffer: int = MAX_BUFFER):
        self.protocol = get(protocol)
        self.stats = stats if stats is not None else Stats()
        self.caps: Capabilities = self.protocol.default_caps
        self.awaiting_caps = False     # the host asked for capabilities and waits for them
        self.caps_refused: str = ""    # why the last capabilities reply was refused
        self._clock = clock
        self._max_buffer = max_buffer
        self._buf = b""
        self.reset()

    def reset(self) -> None:
        """Forget partial packets and clock/sequence history (after a reconnect)."""
        self._buf = b""
        self._last_seq: int | None = None
        self._last_us: int | None = None
        self._wrap_us = 0
        self._pad_dropped: int | None = None
        self._prev: tuple[float, float, float] | None = None   # last report in proximity: x, y, time
        self._read_ms = -math.inf      # host time before which this read's bytes were not sent

    def expect_new_sequence(self) -> None:
        """The host sent HELLO: the pad restarts its numbering, that is no loss."""
        self._last_seq = None

    def feed(self, data: bytes, now: float | None = None) -> list[StreamEvent]:
        """Decode ``data`` (bytes just read); ``now`` in seconds, default the clock."""
        st = self.stats
        st.bytes_in += len(data)
        buf = self._buf + data if self._buf else bytes(data)
        events, rest = self.protocol.decode(buf)
        if len(rest) > self._max_buffer:
            st.overflows += 1
            rest = b""
        self._buf = rest
        if now is None:
            now = self._clock()
        host_ms = now * 1000.0
        out = self._convert(events, host_ms)
        # Bytes of the next read were sent after this one, unless this read
        # was full and may have left some behind.
        self._read_ms = host_ms if len(data) < READ_CHUNK else -math.inf
        return out

    def _convert(self, events: list[Event], host_ms: float) -> list[StreamEvent]:
        st = self.stats
        out: list[StreamEvent] = []
        counts_frames = not self.protocol.has_clock   # sigpad counts FrameSeq instead
        limits = _Limits(self.caps, self.protocol.y_down)
        n_samples = 0
        for e in events:
            if type(e) is PenReport:
                # The hot path (one per sample): kept inline on purpose.
                st.frames += counts_frames
                if not (e.proximity or e.tip):
                    self._prev = None       # it may come back anywhere
                    continue
                if e.x > limits.max_x or e.y > limits.max_y or not limits.fits(e):
                    st.out_of_range += 1
                    out.append(Damage("range"))
                    continue
                t = host_ms if e.t_us is None else self._device_ms(e.t_us)
                if self._jumped(e.x, e.y, t, host_ms, limits):
                    st.jumps += 1
                    out.append(Damage("jump"))
                p = e.pressure
                out.append(Sample(
                    t, float(e.x), float(e.y if limits.flip_y is None else limits.flip_y - e.y),
                    None if p is None or limits.pmax <= 0 else p / limits.pmax, e.tip,
                    float(e.tilt_x) if limits.tilt and e.tilt_x is not None else None,
                    float(e.tilt_y) if limits.tilt and e.tilt_y is not None else None))
                n_samples += 1
            elif type(e) is Capabilities:
                st.frames += counts_frames
                if self._take_caps(e, out):   # later reports in this batch use them too
                    limits = _Limits(self.caps, self.protocol.y_down)
            else:
                self._message(e, out)
        st.samples += n_samples
        return out

    def _message(self, e: Event, out: list[StreamEvent]) -> None:
        """What a decoder says besides reports and capabilities: frames, skips, heartbeats, done."""
        if type(e) is FrameSeq:
            self.stats.frames += 1
            lost = self._sequence(e.seq)
            if lost:
                out.append(Damage("lost", lost))
        elif type(e) is Skipped:
            self._skipped(e, out)
        elif type(e) is Status:
            self._status(e, out)
        elif type(e) is Done:
            out.append(e)

    def _jumped(self, x: int, y: int, t: float, host_ms: float, limits: _Limits) -> bool:
        """Did the pen move faster than a pen can since the last report in proximity?

        With a pad clock ``t`` is the pad's time. Without, two reports read
        together share one host time, so the time between them is bounded
        from above instead: the earlier one was sent after the read before
        its own (``_read_ms``). Never less than the pad's report period.
        """
        prev, self._prev = self._prev, (x, y, t if self.protocol.has_clock else self._read_ms)
        if prev is None:
            return False
        px, py, pt = prev
        dt = (t if self.protocol.has_clock else host_ms) - pt
        if not dt > limits.period_ms:           # also NaN-safe: -inf origins give +inf
            dt = limits.period_ms
        step = limits.speed * dt
        dx, dy = x - px, y - py
        return dx * dx + dy * dy > step * step

    def _take_caps(self, caps: Capabilities, out: list[StreamEvent]) -> bool:
        """Believe a capabilities reply if it was asked for and is plausible; else it is damage."""
        problem = "not asked for" if not self.awaiting_caps else self.protocol.caps_bounds.problem(caps)
        if problem is not None:
            self.stats.caps_refused += 1
            self.caps_refused = f"capabilities reply refused: {problem}"
            out.append(Damage("caps"))
            return False
        self.awaiting_caps, self.caps_refused, self.caps = False, "", caps
        out.append(caps)
        return True

    def _skipped(self, e: Skipped, out: list[StreamEvent]) -> None:
        st = self.stats
        st.resyncs += 1
        st.skipped_bytes += e.n
        st.crc_errors += e.reason == "crc"
        st.skipped[e.reason] = st.skipped.get(e.reason, 0) + e.n
        out.append(Damage(e.reason, e.n))

    def _status(self, e: Status, out: list[StreamEvent]) -> None:
        self.stats.pad_dropped = e.dropped
        before, self._pad_dropped = self._pad_dropped, e.dropped
        if before is not None and e.dropped > before:
            out.append(Damage("pad-dropped", e.dropped - before))
        out.append(e)

    def _device_ms(self, t_us: int) -> float:
        # A 32-bit microsecond counter wraps every 71.6 minutes.
        if self._last_us is not None and t_us < self._last_us - (1 << 31):
            self._wrap_us += 1 << 32
        self._last_us = t_us
        return (t_us + self._wrap_us) / 1000.0

    def _sequence(self, seq: int) -> int:
        """Frames lost before this one (0 for the first, a repeat or a restart)."""
        last, self._last_seq = self._last_seq, seq
        if last is None:
            return 0
        gap = (seq - last - 1) & 0xFFFF
        if gap >= 0x8000:                # a repeat or a restart, not a loss
            return 0
        self.stats.lost_frames += gap
        return gap


class _Limits:
    """What one set of capabilities allows, worked out once per batch."""

    __slots__ = ("flip_y", "max_tilt", "max_x", "max_y", "period_ms", "pmax", "speed", "tilt")

    def __init__(self, caps: Capabilities, y_down: bool):
        self.max_x, self.max_y = caps.max_x, caps.max_y
        self.pmax = caps.max_pressure
        self.tilt = caps.max_tilt_x > 0
        self.max_tilt = (caps.max_tilt_x, caps.max_tilt_y)
        self.flip_y = caps.max_y if y_down else None
        self.speed = math.hypot(caps.max_x, caps.max_y) / MIN_CROSSING_MS    # units per ms
        self.period_ms = 1000.0 / caps.rate_hz if caps.rate_hz > 0 else DEFAULT_PERIOD_MS

    def fits(self, e: PenReport) -> bool:
        """Pressure and tilt within the pad's maxima (x and y are checked inline)."""
        if e.pressure is not None and self.pmax > 0 and not 0 <= e.pressure <= self.pmax:
            return False
        if self.tilt and e.tilt_x is not None:
            tx, ty = self.max_tilt
            return abs(e.tilt_x) <= tx and abs(e.tilt_y or 0) <= ty
        return True
