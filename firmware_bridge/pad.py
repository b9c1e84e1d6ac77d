"""A pen pad as the edge sees it: open by URL, iterate signatures.

    from firmware_bridge.pad import open_pad
    with open_pad("/dev/ttyUSB0", protocol="isdv4") as pad:
        for item in pad.signatures():          # Signature or Refusal
            if isinstance(item, Refusal):
                print("sign again:", item.reason)
            else:
                handle(item)

``open_pad`` opens the port (``auto``: find it by USB id), asks the pad for
its capabilities where the protocol can (ISDV4 query, sigpad HELLO/CAPS),
and starts streaming. ``signatures()`` is a generator that runs in the
caller's thread and blocks in the kernel between packets. Other threads may
call ``request_end()`` (finish the signature now) and ``close()``. Its
``observe`` callback sees every ``PadEvent`` on the way (``pad_events``: live
ink, each read, an unplug).

When the pad is unplugged the signature in progress is refused
(kind ``disconnected``), the port is reopened with backoff, the handshake is
repeated and the generator carries on. A signature with a damaged stretch
(line noise, lost frames, an impossible jump) is refused as ``damaged``.
``pad.stats`` counts bytes, frames, CRC errors, resyncs, lost frames,
damage, reconnects, signatures and refusals.

A capabilities reply is believed only while the handshake waits for the
answer to its query, and only within the protocol's plausible ranges: one
arriving later, or implausible, is noise (``pad.caps_refused`` says why).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

from .capture import DAMAGED, DEFAULT_CAPTURE, CaptureConfig, Refusal, SignatureCapture
from .errors import CaptureError, PadDisconnected, PadGarbled, PadSilent, TransportError
from .line import SerialSettings
from .pad_events import PadEvent, Read, Unplugged
from .protocols import get
from .protocols.base import Capabilities, Protocol
from .signature import Signature
from .stats import Stats
from .stream import SampleStream
from .transport import Transport

GARBLED_SHARE = 0.25
"""Bytes thrown away while resyncing, as a share of those received, above which the
line is garbled rather than noisy (probe.MAX_SKIPPED_SHARE judges a protocol by it too)."""
POLL_S = 1.0
"""Longest blocking read when nothing is in progress: only so that close()
from another thread is seen on transports that cannot cancel a read."""


def open_pad(url: str, protocol: str | Protocol = "sigpad", *,
             config: CaptureConfig = DEFAULT_CAPTURE, reconnect: bool = True,
             settings: SerialSettings | None = None,
             usb_ids: tuple[tuple[int, int], ...] | None = None,
             handshake_timeout_s: float = 1.0, baud: int | None = None) -> Pad:
    """Open the pad at ``url`` speaking ``protocol`` (isdv4, sigpad, topaz).

    ``baud`` overrides the protocol's line speed (some ISDV4 parts run at 19200).
    Raises ``TransportError`` when the port cannot be opened at all.
    """
    proto = get(protocol)
    if url == "auto" and not (proto.usb_ids if usb_ids is None else usb_ids):
        raise TransportError(f"port 'auto' finds a pad by its USB id, and {proto.name} pads have none "
                             "(they sit behind a generic USB-serial adapter or on a UART): name the "
                             "port, e.g. /dev/ttyUSB0 or /dev/serial0 (`sigpad ports` lists them)")
    settings = settings or proto.serial
    if baud is not None:
        settings = dataclasses.replace(settings, baudrate=baud)
    pad = Pad(url, proto, config=config, reconnect=reconnect,
              settings=settings,
              usb_ids=proto.usb_ids if usb_ids is None else usb_ids,
              handshake_timeout_s=handshake_timeout_s)
    pad.open()
    return pad


class Pad:
    """One connected pad. Build with ``open_pad``."""

    def __init__(self, url: str, protocol: Protocol, *, config: CaptureConfig,
                 reconnect: bool, settings: SerialSettings,
                 usb_ids: tuple[tuple[int, int], ...], handshake_timeout_s: float):
        self.protocol = protocol
        self._stats = Stats()
        self.transport = Transport(url, settings, usb_ids, self._stats)
        self.stream = SampleStream(protocol, self._stats)
        self.capture = SignatureCapture(config, source=f"{protocol.name}:{url}")
        self.reconnect = reconnect
        self.handshake_timeout_s = handshake_timeout_s
        self.caps_reported = False       # the pad answered the capabilities query
        self._tx_seq = 0
        self._closed = threading.Event()
        self._end = threading.Event()

    # --- the API --------------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        return self._stats.copy()

    @property
    def caps(self) -> Capabilities:
        return self.stream.caps

    def open(self) -> None:
        self.transport.open()
        self._handshake()

    @property
    def caps_refused(self) -> str:
        """Why the last capabilities reply was refused ('' when none was)."""
        return self.stream.caps_refused

    def signatures(self, observe: Callable[[PadEvent], None] | None = None
                   ) -> Iterator[Signature | Refusal]:
        """Yield each finished ``Signature`` or ``Refusal`` until ``close()``.

        ``observe(event)``, if given, sees every ``PadEvent`` as it arrives,
        before capture (``firmware_bridge.pad_events``): what the stream
        decoded (a ``Sample`` is live ink), ``Read(n)`` after each read (the
        pad answers again after a reconnect) and ``Unplugged`` after an
        unplug. It runs on this thread.
        """
        for now, event in self._events():
            if observe is not None:
                observe(event)
            done = self._capture(event, now)
            if done is not None:
                self._count(done)
                yield done

    def _capture(self, event: PadEvent, now: float) -> Signature | Refusal | None:
        cap = self.capture
        match event:
            case Read(n):
                done = cap.received(n, now)
                if done is None:
                    done = cap.request_end(now) if self._take_end() else cap.tick(now)
                return done
            case Unplugged():
                return cap.abort("pad disconnected")
            case _:
                return cap.feed(event, now)

    def _count(self, done: Signature | Refusal) -> None:
        if isinstance(done, Refusal):
            self._stats.refusals += 1
            self._stats.damaged += done.kind == DAMAGED
        else:
            self._stats.signatures += 1

    def request_end(self) -> None:
        """End the signature in progress now (thread-safe)."""
        self._end.set()
        self.transport.cancel()

    def close(self) -> None:
        """Stop the pad and release the port (thread-safe; idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._command("stop")
        except PadDisconnected:
            pass
        self.transport.close()

    def __enter__(self) -> Pad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Pad {self.protocol.name} {self.transport.port or self.transport.url}>"

    def silence(self, before: Stats, seconds: float) -> CaptureError:
        """Why no signature came in ``seconds`` since ``before`` (a ``stats`` copy): what was seen.

        Nothing at all (``PadSilent``), bytes that never decoded (``PadGarbled``:
        a wrong protocol or baud rate), or a pad that talks while nobody signs.
        """
        seen = self._stats.since(before)
        port = self.transport.port or self.transport.url
        where = f"from {port} in {seconds:g} s"
        if seen.bytes_in == 0:
            return PadSilent(f"nothing received {where}: is the pad plugged in, powered and on this "
                             f"port? `sigpad probe --port {port}` listens and says what it hears")
        if (garbled := self.garbled(before)) is not None:
            return garbled
        if seen.frames == 0:
            return PadGarbled(f"{seen.bytes_in} bytes received {where} but no {self.protocol.name} "
                              f"frame decoded: a wrong protocol or baud rate "
                              f"({self.transport.settings.baudrate} baud)? `sigpad probe --port {port}` "
                              "tells which")
        return CaptureError(f"no signature {where}: the pad answers ({seen.frames} frames, "
                            f"{seen.samples} pen reports) but the pen was never put down on it")

    def garbled(self, before: Stats) -> PadGarbled | None:
        """``PadGarbled`` when most bytes since ``before`` did not decode: whatever a
        wrong protocol or baud rate made of them (a "signature" of stray packets
        too) is no signature, and must not count as someone's failed attempt."""
        seen = self._stats.since(before)
        if seen.bytes_in == 0 or seen.skipped_bytes <= GARBLED_SHARE * seen.bytes_in:
            return None
        port = self.transport.port or self.transport.url
        return PadGarbled(f"{seen.skipped_bytes} of the {seen.bytes_in} bytes from {port} did not decode "
                          f"as {self.protocol.name} ({self.transport.settings.baudrate} baud): a wrong "
                          f"protocol or baud rate? `sigpad probe --port {port}` tells which")

    # --- the loop -------------------------------------------------------------------

    def _events(self) -> Iterator[tuple[float, PadEvent]]:
        """(now, event) pairs: what each read decoded to, then ``Read(n)``;
        ``Unplugged`` after an unplug (then reconnected, or the end)."""
        while not self._closed.is_set():
            try:
                data = self.transport.read(self._timeout())
            except PadDisconnected as exc:
                if self._closed.is_set():
                    return
                yield time.monotonic(), Unplugged(str(exc))
                if not (self.reconnect and self._reconnect()):
                    if self._closed.is_set():
                        return
                    raise
                continue
            now = time.monotonic()
            if data:
                for event in self.stream.feed(data, now):
                    yield now, event
            yield now, Read(len(data))

    def _timeout(self) -> float:
        if self._end.is_set():
            return 0.0
        deadline = self.capture.deadline()
        if deadline is None:
            return POLL_S
        return max(0.0, min(POLL_S, deadline - time.monotonic()))

    def _take_end(self) -> bool:
        if self._end.is_set():
            self._end.clear()
            return True
        return False

    def _reconnect(self) -> bool:
        while self.transport.reconnect():
            self.stream.reset()
            try:
                self._handshake()
                return True
            except PadDisconnected:
                continue                 # gone again during the handshake
        return False

    # --- talking to the pad -----------------------------------------------------------

    def _command(self, name: str) -> None:
        if self.transport.is_open:
            self.transport.write(self.protocol.encode_command(name, self._tx_seq))
            self._tx_seq = (self._tx_seq + 1) & 0xFFFF

    def _handshake(self) -> None:
        """Stop, query capabilities (where the pad can answer), start."""
        if self.protocol.query:
            self._command("stop")
            self.transport.discard_input()
            self.stream.reset()
            self.stream.expect_new_sequence()
            self.stream.awaiting_caps = True
            try:
                self._command("query")
                self.caps_reported = self._await_caps()
            finally:
                self.stream.awaiting_caps = False   # a reply after this is noise
        self._command("start")

    def _await_caps(self) -> bool:
        deadline = time.monotonic() + self.handshake_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            data = self.transport.read(left)
            # Samples before "start" are stale; only the answer matters here.
            if any(isinstance(e, Capabilities) for e in self.stream.feed(data)):
                return True
        return False
