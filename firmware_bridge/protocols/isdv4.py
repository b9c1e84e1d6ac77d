"""Wacom ISDV4 serial digitizers (tablet PCs; Linux ``wacom_w8001``, xf86-input-wacom ``isdv4.h``).

Line: 8N1 at 38400 baud (older parts 19200). Host commands are single ASCII
bytes: ``0`` stop, ``1`` start, ``*`` pen query. The first byte of every
packet has bit 7 set and later bytes have it clear, which is how we resync.

Pen packet, 9 bytes::

    b0 = 0x80 | 0x20 proximity | 0x04 side button 2 / eraser | 0x02 side button 1 | 0x01 tip
    x  = (b1 & 0x7F) << 9 | (b2 & 0x7F) << 2 | (b6 >> 5) & 3        (16 bit)
    y  = (b3 & 0x7F) << 9 | (b4 & 0x7F) << 2 | (b6 >> 3) & 3        (16 bit)
    p  = (b6 & 0x07) << 7 | (b5 & 0x7F)                              (0..1023)
    tilt_x = b7 & 0x7F, tilt_y = b8 & 0x7F

Query reply, 11 bytes, b0 = 0xC0 (bit 6 marks an 11-byte control packet):
maxima of x, y and pressure packed like a pen packet, tilt maxima in b7 and
b8, firmware version ``(b9 << 7) | b10``.

Packets with bit 4 set (0x10) are touch reports; they are skipped as
'unsupported' (disable touch, or use a pen-only digitizer), as are control
packets other than the query reply. There is no checksum, so what the bytes
themselves rule out is checked: a pen packet with the tip down but out of
proximity is skipped as 'invalid', and a query reply is believed only when
the host asked (``firmware_bridge.stream``) and its maxima are plausible
(``CAPS_BOUNDS``: 16-bit axes of at least 1024, 255..1023 pressure levels).

The digitizer has no clock: the stream layer stamps samples on arrival. y
grows downward (screen convention): the protocol says so (``y_down``) and the
stream flips it to ``max_y - y``, since the models were trained with y up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ProtocolError
from ..line import SerialSettings
from .base import (
    Capabilities,
    CapsBounds,
    Command,
    Event,
    PenReport,
    Protocol,
    Skipped,
    resync_decode,
    split_commands,
)

PEN_LEN = 9
CONTROL_LEN = 11
TIP, SIDE1, SIDE2, PROXIMITY = 0x01, 0x02, 0x04, 0x20
CONTROL, TOUCH = 0x40, 0x10
QUERY_REPLY = 0xC0

COMMANDS = {"stop": b"0", "start": b"1", "query": b"*"}
_BY_BYTE = {v[0]: k for k, v in COMMANDS.items()}

# A typical TPC digitizer (e.g. Lenovo X-series: 26202 x 16325, 1023 levels).
DEFAULT_CAPS = Capabilities(max_x=26202, max_y=16325, max_pressure=1023,
                            max_tilt_x=127, max_tilt_y=127, rate_hz=133)
# What a query reply may say: pens always have pressure, carried in 10 bits.
CAPS_BOUNDS = CapsBounds(axis=(1024, 65535), pressure=(255, 1023), pressure_optional=False)


def _packet_len(b0: int) -> int:
    if b0 & CONTROL:
        return CONTROL_LEN
    if b0 & TOUCH:
        return 0
    return PEN_LEN


def _parse(p: bytes) -> PenReport | Capabilities | Skipped:
    b0, b6 = p[0], p[6]
    x = (p[1] & 0x7F) << 9 | (p[2] & 0x7F) << 2 | (b6 >> 5) & 3
    y = (p[3] & 0x7F) << 9 | (p[4] & 0x7F) << 2 | (b6 >> 3) & 3
    pressure = (b6 & 0x07) << 7 | (p[5] & 0x7F)
    if b0 & CONTROL:
        if b0 != QUERY_REPLY:
            return Skipped(CONTROL_LEN, "unsupported")
        return Capabilities(max_x=x, max_y=y, max_pressure=pressure,
                            max_tilt_x=p[7], max_tilt_y=p[8], firmware=p[9] << 7 | p[10])
    if b0 & TIP and not b0 & PROXIMITY:
        return Skipped(PEN_LEN, "invalid")      # a pen on the glass is in proximity
    return PenReport(x, y, pressure, bool(b0 & TIP), bool(b0 & PROXIMITY),
                     p[7], p[8], (b0 >> 1) & 3)


# Well-formed packets: pen (bit 6 and bit 4 clear) or control (bit 6 set).
_PACKET = re.compile(rb"[\x80-\x8f\xa0-\xaf][\x00-\x7f]{8}|[\xc0-\xff][\x00-\x7f]{10}")


def decode(buf: bytes) -> tuple[list[Event], bytes]:
    """Bytes from the digitizer -> (PenReport/Capabilities/Skipped events, rest)."""
    return resync_decode(buf, _packet_len, _parse, _PACKET)


def _pack(b0: int, x: int, y: int, p: int, b7: int, b8: int) -> bytes:
    if not (0 <= x < 1 << 16 and 0 <= y < 1 << 16 and 0 <= p < 1 << 10):
        raise ProtocolError(f"ISDV4 cannot carry x={x} y={y} p={p}")
    b6 = (x & 3) << 5 | (y & 3) << 3 | p >> 7
    return bytes((b0, x >> 9, (x >> 2) & 0x7F, y >> 9, (y >> 2) & 0x7F,
                  p & 0x7F, b6, b7 & 0x7F, b8 & 0x7F))


def encode_report(r: PenReport) -> bytes:
    b0 = 0x80 | (PROXIMITY if r.proximity else 0) | (TIP if r.tip else 0) | (r.buttons & 3) << 1
    return _pack(b0, r.x, r.y, r.pressure or 0, r.tilt_x or 0, r.tilt_y or 0)


def encode_query_reply(c: Capabilities) -> bytes:
    fw = c.firmware & 0x3FFF
    return _pack(0xC0, c.max_x, c.max_y, c.max_pressure, c.max_tilt_x,
                 c.max_tilt_y) + bytes((fw >> 7, fw & 0x7F))


def encode(events: Iterable[Event], seq: int = 0) -> tuple[bytes, int]:
    """Pad side: PenReports and Capabilities -> bytes (other events have no
    ISDV4 form and are left out). ``seq`` is passed through untouched."""
    out = bytearray()
    for e in events:
        if isinstance(e, PenReport):
            out += encode_report(e)
        elif isinstance(e, Capabilities):
            out += encode_query_reply(e)
    return bytes(out), seq


def encode_command(name: str, seq: int = 0, arg: int = 0) -> bytes:
    return COMMANDS.get(name, b"")


def decode_commands(buf: bytes) -> tuple[list[Command], bytes]:
    return split_commands(buf, _BY_BYTE)


def corrupt(data: bytes) -> bytes:
    """Line noise: set bit 7 of the first packet's fourth byte (cuts it short)."""
    if len(data) < 4:
        return data
    return data[:3] + bytes((data[3] | 0x80,)) + data[4:]


PROTOCOL = Protocol(
    name="isdv4", decode=decode, encode=encode, encode_command=encode_command,
    decode_commands=decode_commands, corrupt=corrupt, default_caps=DEFAULT_CAPS,
    serial=SerialSettings(baudrate=38400), usb_ids=(), query=True, y_down=True,
    caps_bounds=CAPS_BOUNDS, description="Wacom ISDV4 serial digitizer (tablet PCs), 38400 8N1",
    other_bauds=(19200,))
