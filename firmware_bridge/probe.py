"""``sigpad probe``: listen to a port and say which pad, if any, speaks there.

A silent pad, a wrong protocol and a wrong baud rate all look the same to a
capture: no signature. Probing tells them apart. For each line setting to
try (every protocol's baud rates: ISDV4 at 38400 and 19200, sigpad at
115200, Topaz at 19200 8O1) the port is opened, the protocols of that
setting are asked to start (query, start), and the bytes are recorded for a
while (``record``). ``judge`` then decodes every recording with every
protocol (pure functions, so recorded bytes test it: a pty ignores baud) and
names the setting where a protocol's frames decode cleanly.

At a wrong baud rate a UART samples the bits at the wrong instants: bytes
arrive, but not the pad's bytes, and no frame decodes. That is the
difference between "nothing received" and "bytes but no frames".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .line import SerialSettings
from .pad import GARBLED_SHARE
from .protocols import PROTOCOLS, Protocol, get
from .protocols.base import Capabilities
from .stats import Stats
from .stream import SampleStream
from .transport import Transport

LISTEN_S = 1.5
MAX_SKIPPED_SHARE = GARBLED_SHARE  # a protocol whose decoder throws away more than this did not fit
MIN_FRAMES = 3             # pen packets that make a protocol recognised without a query answer


@dataclass(frozen=True)
class Line:
    """One line setting to try, and the protocols that use it."""

    baud: int
    parity: str
    protocols: tuple[str, ...]

    @property
    def settings(self) -> SerialSettings:
        return SerialSettings(baudrate=self.baud, parity=self.parity)

    def __str__(self) -> str:
        return f"{self.baud} 8{self.parity}1"


@dataclass(frozen=True)
class Decoded:
    """What one protocol's decoder made of one recording."""

    frames: int
    samples: int
    skipped: int
    caps: Capabilities | None      # what the pad reported, if it answered a query

    def fits(self, n_bytes: int) -> bool:
        # A few bytes of noise can pass for one packet of a protocol without a
        # CRC: ask for the pad's answer to a query, or for a few packets.
        return (self.caps is not None or self.frames >= MIN_FRAMES) and \
            self.skipped <= MAX_SKIPPED_SHARE * n_bytes


@dataclass
class Verdict:
    """The outcome: ``protocol`` and ``baud`` where a pad was recognised (else None)."""

    port: str
    bytes: int
    protocol: str | None
    baud: int | None
    parity: str | None
    caps: Capabilities | None
    caps_reported: bool
    verdict: str
    fix: str | None
    tried: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        caps = self.caps._asdict() if self.caps is not None else None
        return {"port": self.port, "bytes": self.bytes, "protocol": self.protocol, "baud": self.baud,
                "parity": self.parity, "capabilities": caps, "capabilities_reported": self.caps_reported,
                "verdict": self.verdict, "fix": self.fix, "tried": self.tried}


def lines_to_try(protocols: Sequence[str | Protocol] | None = None, baud: int | None = None) -> list[Line]:
    """The line settings of ``protocols`` (default all), each at its bauds or at ``baud``."""
    # Pads that answer a query first: they speak even while the pen is away.
    chosen = [get(p) for p in protocols] if protocols else \
        sorted(PROTOCOLS.values(), key=lambda p: (not p.query, p.name))
    lines: dict[tuple[int, str], list[str]] = {}
    for p in chosen:
        for b in (baud,) if baud else p.bauds:
            lines.setdefault((b, p.serial.parity), []).append(p.name)
    return [Line(b, parity, tuple(names)) for (b, parity), names in lines.items()]


def record(url: str, line: Line, seconds: float = LISTEN_S) -> bytes:
    """The bytes that arrive at ``url`` in ``seconds`` after asking ``line``'s protocols to start."""
    transport = Transport(url, line.settings)
    transport.open()
    try:
        for name in line.protocols:
            _say_hello(transport, get(name))
        data = bytearray()
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            data += transport.read(min(left, 0.2))
        for name in line.protocols:
            transport.write(get(name).encode_command("stop", 0))
        return bytes(data)
    finally:
        transport.close()


def _say_hello(transport: Transport, proto: Protocol) -> None:
    if proto.query:
        transport.write(proto.encode_command("stop", 0))
        transport.write(proto.encode_command("query", 1))
    transport.write(proto.encode_command("start", 2))


def decode(proto: Protocol, data: bytes) -> Decoded:
    """Decode a recording with one protocol, counting what a pad connection would."""
    stats = Stats()
    stream = SampleStream(proto, stats)
    stream.awaiting_caps = bool(proto.query)  # the probe asked (_say_hello): a reply answers it
    events = stream.feed(data, 0.0)
    caps = next((e for e in reversed(events) if isinstance(e, Capabilities)), None)
    return Decoded(stats.frames, stats.samples, stats.skipped_bytes, caps)


def judge(port: str, recordings: list[tuple[Line, bytes]], wanted: str | None = None,
          wanted_baud: int | None = None) -> Verdict:
    """Which pad speaks in ``recordings`` (one per line setting tried, in order)?

    A protocol is recognised where its frames decode and its decoder throws
    away little. The first setting tried where the protocol that setting was
    opened for is recognised wins (a pty ignores baud, so every setting hears
    the same bytes; on a real line only the right rate decodes); failing
    that, the first where any protocol is.
    """
    tried, found = [], []
    for i, (line, data) in enumerate(recordings):
        decoded = {name: decode(p, data) for name, p in sorted(PROTOCOLS.items())}
        tried.append({"baud": line.baud, "parity": line.parity, "protocols": list(line.protocols),
                      "bytes": len(data), "frames": {n: d.frames for n, d in decoded.items()},
                      "samples": {n: d.samples for n, d in decoded.items()}})
        found += [((name in line.protocols, -i, d.frames), line, name, d)
                  for name, d in decoded.items() if d.fits(len(data))]
    best = max(found, key=lambda f: f[0], default=None)
    total = sum(len(data) for _, data in recordings)
    if best is None:
        return Verdict(port, total, None, None, None, None, False,
                       *_unrecognised(total, [line for line, _ in recordings]), tried)
    _, line, name, d = best
    caps = d.caps or get(name).default_caps
    verdict = f"{name} at {line.baud} baud 8{line.parity}1, {_describe_caps(caps, d.caps is not None)}"
    return Verdict(port, total, name, line.baud, line.parity, caps, d.caps is not None, verdict,
                   _mismatch(name, line.baud, wanted, wanted_baud), tried)


def _describe_caps(caps: Capabilities, reported: bool) -> str:
    pressure = f"pressure 0-{caps.max_pressure}" if caps.max_pressure > 0 else "no pressure"
    source = "reported by the pad" if reported else "the protocol's defaults: the pad was not asked"
    return f"{pressure}, {caps.max_x} x {caps.max_y} ({source})"


def _unrecognised(total: int, lines: list[Line]) -> tuple[str, str]:
    where = ", ".join(str(line) for line in lines)
    if total == 0:
        return (f"nothing received at {where}",
                "check the cable, the power and the port; ISDV4 and Topaz pads send only while the pen "
                "is near: hover or sign on the pad while probing (--seconds for longer)")
    return (f"{total} bytes received at {where}, but no frame of any protocol decoded",
            "a wrong baud rate garbles every byte: try the pad's rate with --baud (see its manual), "
            "or it speaks a protocol sigpad does not know")


def _mismatch(name: str, baud: int, wanted: str | None, wanted_baud: int | None) -> str | None:
    fixes = []
    if wanted and wanted != name:
        fixes.append(f"this pad speaks {name}, not {wanted}: use --protocol {name} "
                     f"([pad] protocol = \"{name}\")")
    usual = get(name).serial.baudrate
    if (wanted_baud or usual) != baud:
        fixes.append(f"it runs at {baud} baud: use --baud {baud} ([pad] baud = {baud})")
    return "; ".join(fixes) or None


def probe(url: str, protocols: Sequence[str | Protocol] | None = None, baud: int | None = None,
          seconds: float = LISTEN_S, wanted: str | None = None, wanted_baud: int | None = None) -> Verdict:
    """Record at each line setting to try, then ``judge``. Raises ``TransportError``
    (naming the holder, or the permission fix) when the port cannot be opened."""
    recordings = [(line, record(url, line, seconds)) for line in lines_to_try(protocols, baud)]
    return judge(url, recordings, wanted, wanted_baud)
