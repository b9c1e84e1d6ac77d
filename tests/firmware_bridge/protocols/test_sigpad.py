"""The sigpad framed protocol: COBS, CRC, byte-exact frames, properties."""

from __future__ import annotations

from binascii import crc_hqx

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import sigpad
from firmware_bridge.protocols.base import Capabilities, Command, Done, FrameSeq, PenReport, Skipped, Status


def test_crc_is_ccitt_false():
    # The catalogue check value of CRC-16/CCITT-FALSE.
    assert crc_hqx(b"123456789", 0xFFFF) == 0x29B1


def test_cobs_vectors():
    # The examples of Cheshire & Baker: a zero becomes a block length.
    assert sigpad.cobs_encode(b"\x00") == b"\x01\x01"
    assert sigpad.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert sigpad.cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    assert sigpad.cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255)) + b"\x01"


def test_hello_frame():
    # version 1, type HELLO 0x01, seq 0, body [1] -> 01 01 00 00 01, CRC 0xddc8
    # sent little-endian c8 dd. COBS: "01 01" then a zero -> 03 01 01; the
    # second zero -> 01; "01 c8 dd" to the end -> 04 01 c8 dd; then the 00.
    raw = bytes.fromhex("0101000001")
    assert crc_hqx(raw, 0xFFFF) == 0xDDC8
    frame = bytes.fromhex("03 01 01 01 04 01 c8 dd 00")
    assert sigpad.encode_command("query", 0) == frame
    assert sigpad.decode_commands(frame) == ([Command("query", 1)], b"")


def test_samples_frame():
    # One sample: t=5000 us (88 13 00 00), x=1000 (e8 03), y=2000 (d0 07),
    # p=512 (00 02), tilt 0 0, flags tip|proximity = 03, in SAMPLES seq 1.
    frame = bytes.fromhex("04 01 82 01 04 01 88 13 01 05 e8 03 d0 07 02 02 01 04 03 1f c9 00")
    r = PenReport(1000, 2000, 512, True, True, 0, 0, 0, 5000)
    assert sigpad.encode([r], 1) == (frame, 2)
    assert sigpad.decode(frame) == ([FrameSeq(1), r], b"")


def test_caps_status_done_frames():
    caps = Capabilities(20000, 15000, 1023, 0, 0, 2540, 200, "SP1", 0x0102, 1)
    vectors = [
        (0, "030181010801204e983aff030104ec09c809020103535031d13800", caps),
        (2, "040183020440420f02010103aff100", Status(1_000_000, True, 0)),
        (3, "0401840304a025260332f900", Done(2_500_000)),
    ]
    for seq, hexframe, event in vectors:
        frame = bytes.fromhex(hexframe)
        assert sigpad.encode([event], seq) == (frame, seq + 1)
        assert sigpad.decode(frame) == ([FrameSeq(seq), event], b"")


def test_bad_crc_is_skipped_and_next_frame_decodes():
    good = sigpad.encode([Done(7)], 5)[0]
    events, rest = sigpad.decode(sigpad.corrupt(good) + good)
    assert events == [Skipped(len(good), "crc"), FrameSeq(5), Done(7)] and rest == b""


def test_other_version_and_type_are_skipped():
    v2 = sigpad.encode_frame(sigpad.DONE, 0, b"\0\0\0\0", version=2)
    unknown = sigpad.encode_frame(0x99, 0)
    events, _ = sigpad.decode(v2 + unknown)
    assert [e.reason for e in events] == ["version", "type"]


def test_unterminated_junk_is_bounded():
    events, rest = sigpad.decode(b"\x05" * 1000)
    assert events == [Skipped(1000, "overlong")] and rest == b""


def test_batches_split_at_sixteen():
    rs = [PenReport(i, i, i, True, True, 0, 0, 0, i) for i in range(40)]
    data, seq = sigpad.encode(rs, 65534)
    events, _ = sigpad.decode(data)
    assert [e.seq for e in events if isinstance(e, FrameSeq)] == [65534, 65535, 0]
    assert [e for e in events if isinstance(e, PenReport)] == rs and seq == 1


reports = st.builds(
    PenReport, x=st.integers(0, 65535), y=st.integers(0, 65535), pressure=st.integers(0, 65535),
    tip=st.booleans(), proximity=st.booleans(), tilt_x=st.integers(-128, 127),
    tilt_y=st.integers(-128, 127), buttons=st.integers(0, 3), t_us=st.integers(0, 2**32 - 1))
others = st.one_of(st.builds(Done, st.integers(0, 2**32 - 1)),
                   st.builds(Status, st.integers(0, 2**32 - 1), st.booleans(), st.integers(0, 65535)))
events_st = st.lists(st.one_of(reports, others), max_size=40)


def strip(events):
    return [e for e in events if not isinstance(e, FrameSeq)]


@settings(max_examples=100)
@given(events_st, st.integers(0, 65535))
def test_round_trip(evs, seq):
    data, _ = sigpad.encode(evs, seq)
    out, rest = sigpad.decode(data)
    assert strip(out) == evs and rest == b""


@given(st.binary(max_size=100))
def test_cobs_round_trip(data):
    enc = sigpad.cobs_encode(data)
    assert b"\0" not in enc and sigpad.cobs_decode(enc) == data


@settings(max_examples=150)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data):
    _events, rest = sigpad.decode(data)
    assert len(rest) <= sigpad.MAX_ENCODED
    sigpad.decode_commands(data)


@settings(max_examples=100)
@given(st.binary(max_size=60), events_st.filter(bool))
def test_back_in_sync_within_one_frame(garbage, evs):
    # Garbage (even with zeros in it) costs at most the frame it runs into;
    # with a frame start marker (a 0x00) every later frame decodes.
    data, _ = sigpad.encode(evs, 0)
    out, rest = sigpad.decode(garbage + b"\0" + data)
    assert strip(out)[-len(evs):] == evs and rest == b""


@settings(max_examples=100)
@given(events_st.filter(lambda e: len(e) >= 2), st.data())
def test_mutated_frame_is_dropped_not_misread(evs, data):
    raw = bytearray(sigpad.encode(evs, 0)[0])
    k = data.draw(st.integers(0, len(raw) - 1))
    raw[k] ^= data.draw(st.integers(1, 255))
    out, _ = sigpad.decode(bytes(raw))
    # Whatever comes through is a subsequence of what was sent (CRC catches the rest).
    sent = iter(evs)
    assert all(any(e == s for s in sent) for e in strip(out) if not isinstance(e, Skipped))
