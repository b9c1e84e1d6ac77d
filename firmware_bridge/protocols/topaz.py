"""Topaz serial signature pads (FTDI USB-serial 0403:6001), from the public
reverse-engineered description.

Line: 19200 baud, 8 data bits, odd parity, 1 stop bit (8O1) on most models.
The pad streams on its own; it has no host commands we rely on, no clock
and no pressure (pen down is a switch). Packets are 5 bytes::

    b0: bit 7 sync (set only in the first byte), bit 6 proximity, bit 0 pen down
    x = (b2 & 0x1F) << 7 | (b1 & 0x7F)       (12 bit)
    y = (b4 & 0x1F) << 7 | (b3 & 0x7F)       (12 bit)

Resync as for ISDV4: skip to the next byte with bit 7 set. Samples are
stamped on arrival. There is no checksum, so every bit the format leaves
unused must be clear: ``b0`` is 0x80, 0xC0 or 0xC1 (pen down only in
proximity) and bits 5-6 of ``b2`` and ``b4`` are 0 (12-bit coordinates).
Anything else is skipped as 'invalid'; without this rule random bytes pass
for pen reports about once in 32 five-byte windows, with it about once in
22 000. Note 0403:6001 is the generic FTDI id: ``--port auto``
picks the first FTDI adapter, so name the port when there are several.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ProtocolError
from ..line import SerialSettings
from .base import Capabilities, Command, Event, PenReport, Protocol, Skipped, resync_decode

PACKET_LEN = 5
SYNC, PROXIMITY, PEN_DOWN = 0x80, 0x40, 0x01
DEFAULT_CAPS = Capabilities(max_x=4095, max_y=4095, max_pressure=0, rate_hz=120)


def _packet_len(b0: int) -> int:
    return PACKET_LEN


def _parse(p: bytes) -> PenReport | Skipped:
    b0 = p[0]
    if b0 not in _HEADERS or (p[2] | p[4]) & 0x60:
        return Skipped(PACKET_LEN, "invalid")
    x = (p[2] & 0x1F) << 7 | (p[1] & 0x7F)
    y = (p[4] & 0x1F) << 7 | (p[3] & 0x7F)
    return PenReport(x, y, None, bool(b0 & PEN_DOWN), bool(b0 & PROXIMITY))


_HEADERS = (SYNC, SYNC | PROXIMITY, SYNC | PROXIMITY | PEN_DOWN)
# Well-formed packets only (the fast path); the rest goes through the careful loop.
_PACKET = re.compile(rb"[\x80\xc0\xc1][\x00-\x7f][\x00-\x1f][\x00-\x7f][\x00-\x1f]")


def decode(buf: bytes) -> tuple[list[Event], bytes]:
    """Bytes from the pad -> (PenReport/Skipped events, rest)."""
    return resync_decode(buf, _packet_len, _parse, _PACKET)


def encode_report(r: PenReport) -> bytes:
    if not (0 <= r.x < 4096 and 0 <= r.y < 4096):
        raise ProtocolError(f"Topaz cannot carry x={r.x} y={r.y}")
    b0 = SYNC | (PROXIMITY if r.proximity else 0) | (PEN_DOWN if r.tip else 0)
    return bytes((b0, r.x & 0x7F, r.x >> 7, r.y & 0x7F, r.y >> 7))


def encode(events: Iterable[Event], seq: int = 0) -> tuple[bytes, int]:
    """Pad side: PenReports -> bytes; other events have no Topaz form."""
    return b"".join(encode_report(e) for e in events if isinstance(e, PenReport)), seq


def encode_command(name: str, seq: int = 0, arg: int = 0) -> bytes:
    return b""                           # the pad streams unasked


def decode_commands(buf: bytes) -> tuple[list[Command], bytes]:
    return [], b""


def corrupt(data: bytes) -> bytes:
    """Line noise: set bit 7 of the first packet's third byte."""
    if len(data) < 3:
        return data
    return data[:2] + bytes((data[2] | 0x80,)) + data[3:]


PROTOCOL = Protocol(
    name="topaz", decode=decode, encode=encode, encode_command=encode_command,
    decode_commands=decode_commands, corrupt=corrupt, default_caps=DEFAULT_CAPS,
    serial=SerialSettings(baudrate=19200, parity="O"), usb_ids=((0x0403, 0x6001),),
    query=False, description="Topaz serial signature pad, 19200 8O1, no pressure")
