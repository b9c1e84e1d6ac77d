"""What every pad protocol module provides, and the events decoders emit.

A protocol module is pure: ``decode(buf) -> (events, rest)`` turns bytes into
events and returns the bytes it could not use yet (an unfinished packet);
``encode(events, seq) -> (bytes, next_seq)`` is the pad's side, used by tests
and by the virtual pad. No module here reads a clock or a port.

Events are small immutable records (NamedTuples, readable repr):

* ``PenReport`` - one pen position in the pad's own units (raw integers).
  ``t_us`` is the pad's clock where it has one (sigpad), else None (ISDV4 and
  Topaz have no clock; the stream layer stamps arrival time).
* ``Capabilities`` - ranges and identity of the pad (ISDV4 query reply,
  sigpad CAPS, or the protocol's fixed defaults).
* ``Done`` - the pad's explicit end-of-signature button.
* ``Status`` - heartbeat.
* ``FrameSeq`` - a frame with a sequence number arrived (sigpad); the stream
  layer counts gaps as lost frames.
* ``Skipped`` - bytes thrown away to get back in sync, with the reason.
  Damaged input is reported this way, never raised.
* ``Damage`` - not from a decoder: the stream layer (``firmware_bridge.stream``)
  says that a stretch of the stream was damaged (bytes skipped, a sample out
  of the pad's range or an impossible jump, lost frames, an unasked or
  implausible capabilities reply), so that capture can refuse the signature.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..line import SerialSettings


class PenReport(NamedTuple):
    """One pen report in the pad's units; ``pressure`` None when the pad has none."""

    x: int
    y: int
    pressure: int | None = None
    tip: bool = False
    proximity: bool = True
    tilt_x: int | None = None
    tilt_y: int | None = None
    buttons: int = 0
    t_us: int | None = None

    def __repr__(self) -> str:
        state = "tip" if self.tip else ("hover" if self.proximity else "out")
        t = "" if self.t_us is None else f" t={self.t_us}us"
        p = "" if self.pressure is None else f" p={self.pressure}"
        return f"PenReport(x={self.x} y={self.y}{p} {state}{t})"


class Capabilities(NamedTuple):
    """Ranges and identity a pad reports; maxima are inclusive raw values."""

    max_x: int
    max_y: int
    max_pressure: int = 0          # 0: the pad has no pressure
    max_tilt_x: int = 0
    max_tilt_y: int = 0
    resolution_lpi: int = 0        # lines per inch, 0 when unknown
    rate_hz: int = 0               # nominal report rate, 0 when unknown
    serial: str = ""
    firmware: int = 0
    version: int = 0               # protocol version agreed (sigpad)


class Done(NamedTuple):
    """The pad's "done" button: the signature on the pad is finished."""

    t_us: int | None = None


class Status(NamedTuple):
    """Heartbeat: the pad is alive; ``streaming`` as the pad sees it."""

    t_us: int | None = None
    streaming: bool = False
    dropped: int = 0               # samples the pad itself had to drop


class FrameSeq(NamedTuple):
    """A good frame with this sequence number arrived."""

    seq: int


class Skipped(NamedTuple):
    """``n`` bytes discarded; reason is 'resync', 'crc', 'cobs', 'length',
    'version', 'type', 'overlong', 'unsupported' or 'invalid' (a packet whose
    reserved bits or flags no pad sends)."""

    n: int
    reason: str


class Damage(NamedTuple):
    """``n`` counts of damage of one ``kind`` in the stream (see ``stream.DAMAGE_KINDS``)."""

    kind: str
    n: int = 1


class Command(NamedTuple):
    """A host-to-pad command as the pad understands it: query, start, stop."""

    name: str
    arg: int = 0


Event = PenReport | Capabilities | Done | Status | FrameSeq | Skipped
"""What a decoder emits (and an encoder takes: it writes the kinds its pads send)."""


class Encoder(typing.Protocol):
    """The pad's side: events -> bytes, from sequence number ``seq``; returns the next one."""

    def __call__(self, events: Iterable[Event], seq: int = 0) -> tuple[bytes, int]: ...


class CommandEncoder(typing.Protocol):
    """The host's side: a command by name (query, start, stop) -> bytes; ``arg``: HELLO's version."""

    def __call__(self, name: str, seq: int = 0, arg: int = ...) -> bytes: ...


@dataclass(frozen=True)
class CapsBounds:
    """What a capabilities reply may say and still be believed (inclusive ranges).

    A reply outside them is line noise or a broken pad: believing it would
    rescale every later sample (a maximum pressure of 300 makes honest
    signatures look pressed three times harder, 0 makes them pressure-free).
    ``pressure``: the range of a non-zero maximum; 0 (no pressure) is allowed
    only when ``pressure_optional``.
    """

    axis: tuple[int, int] = (256, 65535)
    pressure: tuple[int, int] = (255, 65535)
    pressure_optional: bool = True
    tilt: tuple[int, int] = (0, 127)
    rate_hz: tuple[int, int] = (0, 2000)

    def problem(self, caps: Capabilities) -> str | None:
        """Why ``caps`` is not plausible, or None."""
        checks = [("max_x", caps.max_x, self.axis), ("max_y", caps.max_y, self.axis),
                  ("max_tilt_x", caps.max_tilt_x, self.tilt), ("max_tilt_y", caps.max_tilt_y, self.tilt),
                  ("rate_hz", caps.rate_hz, self.rate_hz)]
        if caps.max_pressure or not self.pressure_optional:
            checks.append(("max_pressure", caps.max_pressure, self.pressure))
        for name, value, (lo, hi) in checks:
            if not lo <= value <= hi:
                return f"{name} {value} outside {lo}..{hi}"
        return None


@dataclass(frozen=True)
class Protocol:
    """One pad protocol, chosen by name from ``firmware_bridge.protocols.PROTOCOLS``.

    ``decode``/``encode`` are the pad-to-host direction; ``encode_command`` /
    ``decode_commands`` the host-to-pad direction (the virtual pad decodes
    them). ``corrupt`` damages the first packet of some encoded bytes the way
    line noise would (faults for tests). ``query`` says whether the pad
    answers a capabilities query; if not, ``default_caps`` is all we know.
    ``version`` is the highest protocol version the pad speaks (the reply to a
    query carries the lower of it and the host's); 0: the protocol has none.
    ``heartbeat``: the pad sends a ``Status`` now and then, even when idle.
    ``y_down``: the pad's y grows downward (screen convention); the stream
    turns it into ``max_y - y`` so every ``Sample`` has y growing upward, as
    SVC2004 and the models do. ``other_bauds``: rates some models of the pad
    use instead of ``serial.baudrate`` (``sigpad probe`` tries them too).
    ``caps_bounds``: what a capabilities reply may say (``CapsBounds``); a
    reply outside is refused.
    """

    name: str
    decode: Callable[[bytes], tuple[list[Event], bytes]]
    encode: Encoder
    encode_command: CommandEncoder
    decode_commands: Callable[[bytes], tuple[list[Command], bytes]]
    corrupt: Callable[[bytes], bytes]
    default_caps: Capabilities
    serial: SerialSettings = field(default_factory=SerialSettings)
    usb_ids: tuple[tuple[int, int], ...] = ()
    query: bool = False
    has_clock: bool = False
    max_batch: int = 1             # pen reports per packet the pad may send
    y_down: bool = False           # y grows downward on the wire: the stream flips it
    version: int = 0               # highest version the pad speaks, 0: unversioned
    heartbeat: bool = False        # the pad sends Status (heartbeats)
    caps_bounds: CapsBounds = field(default_factory=CapsBounds)
    description: str = ""
    other_bauds: tuple[int, ...] = ()

    @property
    def bauds(self) -> tuple[int, ...]:
        """The baud rates this pad may use, the usual one first."""
        return (self.serial.baudrate, *self.other_bauds)

    def __repr__(self) -> str:
        return f"<Protocol {self.name} {self.serial.baudrate} baud>"


def split_commands(buf: bytes, table: dict[int, str]) -> tuple[list[Command], bytes]:
    """Single-byte ASCII commands (ISDV4, Topaz); unknown bytes are ignored."""
    return [Command(table[b]) for b in buf if b in table], b""


_HIGH = re.compile(rb"[\x80-\xff]")


def resync_decode(buf: bytes, packet_len: Callable[[int], int], parse: Callable[[bytes], Event],
                  packet_re: re.Pattern[bytes] | None = None) -> tuple[list[Event], bytes]:
    """Decode a stream whose packets start with the only byte that has bit 7 set.

    ``packet_len(b0)`` gives the length for a header byte (0: a packet kind we
    do not support; skip to the next header); ``parse(packet)`` returns one
    event, or ``Skipped(len, 'invalid')`` for a packet no pad sends (reserved
    bits set): on a line without a checksum that is how noise shows.
    ``packet_re``, matching exactly the well-formed packets, is the fast path:
    regex scanning runs in C, which is what makes pure Python fast enough; only
    the bytes between matches go through the careful loop.
    """
    if packet_re is None:
        return _resync_slow(buf, packet_len, parse, final=False)
    events: list[Event] = []
    pos = 0
    append = events.append
    for m in packet_re.finditer(buf):
        start = m.start()
        if start != pos:
            events.extend(_resync_slow(buf[pos:start], packet_len, parse, final=True)[0])
        append(parse(m.group()))
        pos = m.end()
    tail, rest = _resync_slow(buf[pos:], packet_len, parse, final=False)
    events.extend(tail)
    return events, rest


def _resync_slow(buf: bytes, packet_len: Callable[[int], int], parse: Callable[[bytes], Event],
                 final: bool) -> tuple[list[Event], bytes]:
    """Byte by byte. A header byte inside a packet means the packet was cut
    short: drop it and start again there, so one bad byte costs at most one
    packet. ``final``: no more bytes will follow (a gap between packets)."""
    events: list[Event] = []
    i, n = 0, len(buf)
    search = _HIGH.search
    while i < n:
        if not buf[i] & 0x80:
            m = search(buf, i + 1)
            j = m.start() if m else n
            events.append(Skipped(j - i, "resync"))
            i = j
            continue
        size = packet_len(buf[i])
        end = min(i + size, n) if size else n
        m = search(buf, i + 1, end)
        if m is None and size and i + size > n:
            if not final:
                break                   # unfinished packet: wait for more bytes
            events.append(Skipped(n - i, "resync"))
            i = n
            continue
        if m is not None or not size:
            j = m.start() if m else n
            events.append(Skipped(j - i, "resync" if size else "unsupported"))
            i = j
            continue
        events.append(parse(buf[i:i + size]))
        i += size
    return events, bytes(buf[i:])
