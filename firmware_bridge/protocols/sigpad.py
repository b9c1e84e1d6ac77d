"""The sigpad framed protocol for microcontroller pads (spec: docs/protocol.md).

Every frame is COBS-encoded and ends with 0x00, so a receiver resyncs at the
next zero byte whatever happened before. Decoded, a frame is (little-endian)::

    version u8 | type u8 | seq u16 | body | crc u16

``crc`` is CRC-16/CCITT-FALSE (``binascii.crc_hqx(data, 0xFFFF)``) over
everything before it. Each direction numbers its frames; a gap in the pad's
numbers is a lost frame (the stream layer counts them).

Host to pad: HELLO (body: highest version the host speaks), START, STOP.
Pad to host: CAPS (answer to HELLO), SAMPLES (1..16 samples), STATUS
(heartbeat), DONE (the "done" button). Damaged frames become ``Skipped``
events; nothing here raises on input bytes.
"""

from __future__ import annotations

import struct
from binascii import crc_hqx
from collections.abc import Iterable

from ..errors import FrameError, ProtocolError
from ..line import SerialSettings
from .base import Capabilities, Command, Done, Event, FrameSeq, PenReport, Protocol, Skipped, Status

VERSION = 1
HELLO, START, STOP = 0x01, 0x02, 0x03
CAPS, SAMPLES, STATUS, DONE = 0x81, 0x82, 0x83, 0x84
TIP, PROXIMITY, BUTTON1, BUTTON2 = 0x01, 0x02, 0x04, 0x08
MAX_BATCH = 16
MAX_BODY = 250
MAX_ENCODED = 2 + 4 + MAX_BODY + 2 + 2     # header, body, crc, COBS overhead

_HEADER = struct.Struct("<BBH")
_CRC = struct.Struct("<H")
_SAMPLE = struct.Struct("<IHHHbbB")
_CAPS = struct.Struct("<BHHHBBHHHB")
_STATUS = struct.Struct("<IBH")
_DONE = struct.Struct("<I")
_COMMANDS = {"query": HELLO, "start": START, "stop": STOP}
_COMMAND_NAMES = {v: k for k, v in _COMMANDS.items()}

DEFAULT_CAPS = Capabilities(max_x=65535, max_y=65535, max_pressure=4095,
                            rate_hz=200, version=VERSION)


# --- COBS -------------------------------------------------------------------------

def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result has no 0x00 bytes."""
    out = bytearray()
    for part in bytes(data).split(b"\0"):
        while len(part) >= 254:          # a full block carries no implied zero
            out.append(255)
            out += part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Undo ``cobs_encode``; raises ``FrameError`` on a malformed block."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            raise FrameError(f"bad COBS block at byte {i}")
        out += data[i + 1:end]
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


# --- frames -----------------------------------------------------------------------

def encode_frame(msg_type: int, seq: int, body: bytes = b"", version: int = VERSION,
                 crc_xor: int = 0) -> bytes:
    """One complete frame on the wire, 0x00 included. ``crc_xor`` damages the
    CRC on purpose (fault injection)."""
    if len(body) > MAX_BODY:
        raise ProtocolError(f"body of {len(body)} bytes, at most {MAX_BODY}")
    raw = _HEADER.pack(version, msg_type, seq & 0xFFFF) + body
    raw += _CRC.pack(crc_hqx(raw, 0xFFFF) ^ crc_xor)
    return cobs_encode(raw) + b"\0"


def _split(buf: bytes) -> tuple[list[Event], list[tuple[int, int, bytes, int]], bytes]:
    """Complete frames checked and unpacked -> (skips, [(type, seq, body)], rest)."""
    chunks = bytes(buf).split(b"\0")
    rest = chunks.pop()
    skips: list[Event] = []
    frames: list[tuple[int, int, bytes, int]] = []
    for chunk in chunks:
        if not chunk:
            continue                     # idle zeros between frames are allowed
        try:
            raw = cobs_decode(chunk)
        except FrameError:
            skips.append(Skipped(len(chunk) + 1, "cobs"))
            continue
        if len(raw) < 6:
            skips.append(Skipped(len(chunk) + 1, "length"))
        elif crc_hqx(raw[:-2], 0xFFFF) != _CRC.unpack_from(raw, len(raw) - 2)[0]:
            skips.append(Skipped(len(chunk) + 1, "crc"))
        elif raw[0] != VERSION:
            skips.append(Skipped(len(chunk) + 1, "version"))
        else:
            frames.append((raw[1], _HEADER.unpack_from(raw)[2], raw[4:-2], len(chunk) + 1))
    if len(rest) > MAX_ENCODED:          # no terminator in sight: bound the buffer
        skips.append(Skipped(len(rest), "overlong"))
        rest = b""
    return skips, frames, rest


def _samples(body: bytes) -> list[Event]:
    count = body[0] if body else 0
    if count == 0 or count > MAX_BATCH or len(body) != 1 + count * _SAMPLE.size:
        raise FrameError("bad SAMPLES body")
    return [PenReport(x, y, p, bool(f & TIP), bool(f & PROXIMITY), tx, ty,
                      (f >> 2) & 3, t)
            for t, x, y, p, tx, ty, f in _SAMPLE.iter_unpack(body[1:])]


def _caps(body: bytes) -> Capabilities:
    v, mx, my, mp, tx, ty, lpi, rate, fw, n = _CAPS.unpack_from(body)
    serial = body[_CAPS.size:]
    if len(serial) != n:
        raise FrameError("bad CAPS serial length")
    return Capabilities(mx, my, mp, tx, ty, lpi, rate,
                        serial.decode("ascii", "replace"), fw, v)


def _message(msg_type: int, body: bytes) -> list[Event]:
    """Body -> events; struct.error and FrameError mean a bad length."""
    if msg_type == SAMPLES:
        return _samples(body)
    if msg_type == CAPS:
        return [_caps(body)]
    if msg_type == STATUS:
        t, state, dropped = _STATUS.unpack(body)
        return [Status(t, bool(state & 1), dropped)]
    if msg_type == DONE:
        return [Done(_DONE.unpack(body)[0])]
    return []


def decode(buf: bytes) -> tuple[list[Event], bytes]:
    """Bytes from the pad -> (events, rest). Each good frame yields a
    ``FrameSeq`` and then its messages; damaged ones a ``Skipped``."""
    events, frames, rest = _split(buf)
    for msg_type, seq, body, size in frames:
        if msg_type not in (SAMPLES, CAPS, STATUS, DONE):
            events.append(Skipped(size, "type"))
            continue
        try:
            msgs = _message(msg_type, body)
        except (struct.error, FrameError, IndexError):
            events.append(Skipped(size, "length"))
            continue
        events.append(FrameSeq(seq))
        events.extend(msgs)
    return events, rest


# --- the pad's side ---------------------------------------------------------------

def _report_bytes(r: PenReport) -> bytes:
    flags = (TIP if r.tip else 0) | (PROXIMITY if r.proximity else 0) | (r.buttons & 3) << 2
    try:
        return _SAMPLE.pack((r.t_us or 0) & 0xFFFFFFFF, r.x, r.y, r.pressure or 0,
                            r.tilt_x or 0, r.tilt_y or 0, flags)
    except struct.error as exc:
        raise ProtocolError(f"sigpad cannot carry {r!r}: {exc}") from exc


def _event_frames(e: Event, seq: int) -> bytes:
    if isinstance(e, Capabilities):
        serial = e.serial.encode("ascii", "replace")[:32]
        body = _CAPS.pack(e.version or VERSION, e.max_x, e.max_y, e.max_pressure,
                          e.max_tilt_x, e.max_tilt_y, e.resolution_lpi, e.rate_hz,
                          e.firmware, len(serial)) + serial
        return encode_frame(CAPS, seq, body)
    if isinstance(e, Status):
        return encode_frame(STATUS, seq, _STATUS.pack((e.t_us or 0) & 0xFFFFFFFF,
                                                      int(e.streaming), e.dropped))
    if isinstance(e, Done):
        return encode_frame(DONE, seq, _DONE.pack((e.t_us or 0) & 0xFFFFFFFF))
    return b""


def encode(events: Iterable[Event], seq: int = 0) -> tuple[bytes, int]:
    """Pad side: events -> frames. Runs of PenReports share SAMPLES frames of
    up to 16. Returns the bytes and the next sequence number."""
    out = bytearray()
    batch: list[bytes] = []

    def flush() -> None:
        nonlocal seq
        for k in range(0, len(batch), MAX_BATCH):
            part = batch[k:k + MAX_BATCH]
            out.extend(encode_frame(SAMPLES, seq, bytes((len(part),)) + b"".join(part)))
            seq = (seq + 1) & 0xFFFF
        batch.clear()

    for e in events:
        if isinstance(e, PenReport):
            batch.append(_report_bytes(e))
            continue
        flush()
        frame = _event_frames(e, seq)
        if frame:
            out += frame
            seq = (seq + 1) & 0xFFFF
    flush()
    return bytes(out), seq


def encode_command(name: str, seq: int = 0, arg: int = VERSION) -> bytes:
    """Host side: 'query' (HELLO), 'start' or 'stop' as one frame."""
    msg_type = _COMMANDS[name]
    return encode_frame(msg_type, seq, bytes((arg & 0xFF,)) if msg_type == HELLO else b"")


def decode_commands(buf: bytes) -> tuple[list[Command], bytes]:
    """Pad side: host frames -> Commands; damaged or unknown frames are ignored."""
    _, frames, rest = _split(buf)
    cmds = [Command(_COMMAND_NAMES[t], body[0] if body else VERSION)
            for t, _seq, body, _n in frames if t in _COMMAND_NAMES]
    return cmds, rest


def corrupt(data: bytes) -> bytes:
    """Damage the first frame's CRC (re-encoded, so COBS stays valid)."""
    end = data.find(b"\0")
    if end <= 0:
        return data
    raw = bytearray(cobs_decode(data[:end]))
    raw[-1] ^= 0x5A
    return cobs_encode(bytes(raw)) + data[end:]


PROTOCOL = Protocol(
    name="sigpad", decode=decode, encode=encode, encode_command=encode_command,
    decode_commands=decode_commands, corrupt=corrupt, default_caps=DEFAULT_CAPS,
    serial=SerialSettings(baudrate=115200), usb_ids=((0x2E8A, 0x000A),), query=True,
    has_clock=True, max_batch=MAX_BATCH, version=VERSION, heartbeat=True,
    description="sigpad framed protocol (COBS + CRC-16) for microcontroller pads")
