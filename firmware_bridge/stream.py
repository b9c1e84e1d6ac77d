"""Bytes to ``Sample`` records: the stateful layer over a pure protocol decoder.

``SampleStream.feed(data, now)`` keeps the unfinished packet between calls,
converts ``PenReport`` events to ``Sample`` (time in ms, pressure 0..1 by the
pad's reported maximum) and counts everything in a shared ``Stats``.

Time: a pad with a clock (sigpad) gives microseconds in a 32-bit counter,
which we unwrap; pads without (ISDV4, Topaz) get the host's monotonic clock
at arrival. Reports out of proximity carry stale coordinates and are
counted but not passed on: capture ends signatures on the silence instead.
"""

from __future__ import annotations

import time
from typing import Callable

from .protocols import get
from .protocols.base import (Capabilities, Done, FrameSeq, PenReport, Protocol,
                             Skipped, Status)
from .signature import Sample
from .stats import Stats

MAX_BUFFER = 64 * 1024
"""Undecoded bytes kept at most; decoders already bound it, this is a backstop."""


class SampleStream:
    """Feed bytes, get ``Sample``, ``Done``, ``Status`` and ``Capabilities``."""

    def __init__(self, protocol: str | Protocol, stats: Stats | None = None,
                 clock: Callable[[], float] = time.monotonic, max_buffer: int = MAX_BUFFER):
        self.protocol = get(protocol)
        self.stats = stats if stats is not None else Stats()
        self.caps: Capabilities = self.protocol.default_caps
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

    def expect_new_sequence(self) -> None:
        """The host sent HELLO: the pad restarts its numbering, that is no loss."""
        self._last_seq = None

    def feed(self, data: bytes, now: float | None = None) -> list:
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
        return self._convert(events, now * 1000.0)

    def _convert(self, events: list, host_ms: float) -> list:
        st, out, caps = self.stats, [], self.caps
        counts_frames = not self.protocol.has_clock   # sigpad counts FrameSeq instead
        pmax = caps.max_pressure
        tilt = caps.max_tilt_x > 0
        flip_y = caps.max_y if self.protocol.y_down else None
        n_samples = 0
        for e in events:
            kind = type(e)
            if kind is PenReport:
                # The hot path (one per sample): kept inline on purpose.
                st.frames += counts_frames
                if not (e.proximity or e.tip):
                    continue
                p = e.pressure
                out.append(Sample(
                    host_ms if e.t_us is None else self._device_ms(e.t_us),
                    float(e.x), float(e.y if flip_y is None else flip_y - e.y),
                    None if p is None or pmax <= 0 else min(p / pmax, 1.0), e.tip,
                    float(e.tilt_x) if tilt and e.tilt_x is not None else None,
                    float(e.tilt_y) if tilt and e.tilt_y is not None else None))
                n_samples += 1
            elif kind is FrameSeq:
                st.frames += 1
                self._sequence(e.seq)
            elif kind is Skipped:
                st.resyncs += 1
                st.skipped_bytes += e.n
                st.crc_errors += e.reason == "crc"
            elif kind is Capabilities:
                st.frames += counts_frames
                self.caps = caps = e      # later reports in this batch use it too
                pmax, tilt = e.max_pressure, e.max_tilt_x > 0
                flip_y = e.max_y if self.protocol.y_down else None
                out.append(e)
            elif kind is Status:
                st.pad_dropped = e.dropped
                out.append(e)
            elif kind is Done:
                out.append(e)
        st.samples += n_samples
        return out

    def _device_ms(self, t_us: int) -> float:
        # A 32-bit microsecond counter wraps every 71.6 minutes.
        if self._last_us is not None and t_us < self._last_us - (1 << 31):
            self._wrap_us += 1 << 32
        self._last_us = t_us
        return (t_us + self._wrap_us) / 1000.0

    def _sequence(self, seq: int) -> None:
        last, self._last_seq = self._last_seq, seq
        if last is None:
            return
        gap = (seq - last - 1) & 0xFFFF
        if gap < 0x8000:                 # larger: a repeat or a restart, not a loss
            self.stats.lost_frames += gap
