"""ISDV4: the byte-exact vectors, resync, and properties of decode/encode."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import isdv4
from firmware_bridge.protocols.base import Capabilities, PenReport, Skipped

# From the issue: x=26000, y=16000, p=1023, tilt 60/70, tip + proximity.
# b0 = 0x80|0x20|0x01 = 0xa1; x>>9 = 50 = 0x32; (x>>2)&0x7f = 6500-6400 = 100 = 0x64;
# y>>9 = 31 = 0x1f; (y>>2)&0x7f = 4000-3968 = 32 = 0x20; p&0x7f = 0x7f;
# b6 = (x&3)<<5 | (y&3)<<3 | p>>7 = 0|0|7 = 0x07; tilts 0x3c, 0x46.
VECTOR = bytes.fromhex("a1 32 64 1f 20 7f 07 3c 46")
REPORT = PenReport(26000, 16000, 1023, True, True, 60, 70, 0)


def pens(events):
    return [e for e in events if isinstance(e, PenReport)]


def test_vector_decodes():
    events, rest = isdv4.decode(VECTOR)
    assert events == [REPORT] and rest == b""


def test_vector_encodes():
    assert isdv4.encode_report(REPORT) == VECTOR


def test_low_bits_land_in_byte_6():
    # x=3, y=2, p=0x80: b6 = 3<<5 | 2<<3 | 1 = 0x60|0x10|0x01 = 0x71; b5 = 0.
    data = isdv4.encode_report(PenReport(3, 2, 0x80, False, True, 0, 0))
    assert data.hex() == "a0000000000071" + "0000"


def test_query_reply():
    # Maxima 26202 x 16325, pressure 1023, tilt 127/127, firmware 0x0123.
    # 26202>>9 = 51 = 0x33, (26202>>2)&0x7f = 6550-6528 = 22 = 0x16, 26202&3 = 2;
    # 16325>>9 = 31 = 0x1f, (16325>>2)&0x7f = 4081-3968 = 113 = 0x71, 16325&3 = 1;
    # b6 = 2<<5 | 1<<3 | 7 = 0x4f; firmware 0x123 = 2<<7 | 0x23.
    data = bytes.fromhex("c0 33 16 1f 71 7f 4f 7f 7f 02 23")
    events, _rest = isdv4.decode(data)
    assert events == [Capabilities(26202, 16325, 1023, 127, 127, firmware=0x0123)]
    assert isdv4.encode_query_reply(events[0]) == data


def test_split_packet_waits_for_the_rest():
    events, rest = isdv4.decode(VECTOR[:5])
    assert events == [] and rest == VECTOR[:5]
    events, rest = isdv4.decode(rest + VECTOR[5:])
    assert events == [REPORT] and rest == b""


def test_cut_packet_resyncs_at_next_header():
    events, _rest = isdv4.decode(VECTOR[:4] + VECTOR)
    assert events == [Skipped(4, "resync"), REPORT]


def test_touch_packets_are_skipped():
    events, _ = isdv4.decode(bytes.fromhex("91 01 02 03 04") + VECTOR)
    assert events == [Skipped(5, "unsupported"), REPORT]


def test_packets_no_pen_sends_are_skipped_as_invalid_or_unsupported():
    # Tip down but out of proximity (b0 = 0x81): the pen cannot touch the glass from afar.
    tip_far = bytes((0x81,)) + VECTOR[1:]
    # A control packet that is not the query reply (0xC1): nothing we asked for.
    other_control = bytes.fromhex("c1 33 16 1f 71 7f 4f 7f 7f 02 23")
    events, rest = isdv4.decode(tip_far + other_control + VECTOR)
    assert events == [Skipped(9, "invalid"), Skipped(11, "unsupported"), REPORT] and rest == b""


def test_host_commands():
    assert isdv4.encode_command("start") == b"1"
    assert isdv4.decode_commands(b"0*1x")[0] == [("stop", 0), ("query", 0), ("start", 0)]


reports = st.builds(
    PenReport, x=st.integers(0, 65535), y=st.integers(0, 65535), pressure=st.integers(0, 1023),
    tip=st.booleans(), proximity=st.booleans(), tilt_x=st.integers(0, 127),
    tilt_y=st.integers(0, 127), buttons=st.integers(0, 3), t_us=st.none()
).filter(lambda r: r.proximity or not r.tip)      # what a pen can report


@given(st.lists(reports, max_size=20))
def test_round_trip(rs):
    data, _ = isdv4.encode(rs)
    events, rest = isdv4.decode(data)
    assert events == rs and rest == b""


@settings(max_examples=150)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    _events, rest = isdv4.decode(data)
    assert len(rest) < isdv4.CONTROL_LEN


@settings(max_examples=150)
@given(st.binary(max_size=40), st.lists(reports, min_size=1, max_size=5))
def test_back_in_sync_within_one_packet(garbage, rs):
    # Whatever came before, every packet after the garbage is decoded.
    data, _ = isdv4.encode(rs)
    events, rest = isdv4.decode(garbage + data)
    assert pens(events)[-len(rs):] == rs and rest == b""


@settings(max_examples=100)
@given(st.lists(reports, min_size=3, max_size=6), st.data())
def test_mutated_stream_loses_at_most_the_damaged_packets(rs, data):
    raw = bytearray(isdv4.encode(rs)[0])
    k = data.draw(st.integers(0, len(raw) - 1))
    raw[k] = data.draw(st.integers(0, 255))
    events, _ = isdv4.decode(bytes(raw))
    damaged = k // isdv4.PEN_LEN
    # Packets before the damaged one come through intact; so do all from two
    # after it on (the damage can eat into the next packet, no further).
    got = pens(events)
    assert got[:damaged] == rs[:damaged]
    after = rs[damaged + 2:]
    assert not after or got[-len(after):] == after
