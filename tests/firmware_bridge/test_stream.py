"""SampleStream: units, clocks and counters over the pure decoders."""

from __future__ import annotations

from firmware_bridge.protocols import isdv4, sigpad
from firmware_bridge.protocols.base import Capabilities, Done, PenReport
from firmware_bridge.signature import Sample
from firmware_bridge.stream import SampleStream


def test_isdv4_pressure_scaled_by_queried_maximum_and_host_time():
    s = SampleStream("isdv4")
    caps = Capabilities(1000, 1000, 511, 0, 0)        # no tilt reported
    s.feed(isdv4.encode_query_reply(caps), now=1.0)
    out = s.feed(isdv4.encode_report(PenReport(10, 20, 511, True, True, 5, 5)), now=2.5)
    # ISDV4's y grows downward: 20 from the top of a 1000-high pad is 980 from its bottom.
    assert out == [Sample(2500.0, 10.0, 980.0, 1.0, True, None, None)]
    assert s.stats.frames == 2 and s.stats.samples == 1


def test_isdv4_vector_arrives_with_y_up():
    # The vector: x 26000, y 16000, p 1023, tilt 60/70, tip + proximity.
    s = SampleStream("isdv4")
    s.feed(isdv4.encode_query_reply(Capabilities(26202, 16325, 1023, 0, 0)), now=0.0)
    [sample] = s.feed(bytes.fromhex("a1 32 64 1f 20 7f 07 3c 46"), now=1.0)
    assert (sample.x, sample.y, sample.pressure) == (26000.0, 16325.0 - 16000.0, 1.0)
    # sigpad pads report y up already: nothing is flipped.
    assert not sigpad.PROTOCOL.y_down and isdv4.PROTOCOL.y_down


def test_out_of_proximity_is_not_a_sample():
    s = SampleStream("isdv4")
    assert s.feed(isdv4.encode_report(PenReport(1, 2, 0, False, False)), now=0.0) == []


def test_sigpad_device_time_unwraps_and_counts_lost_frames():
    s = SampleStream("sigpad")
    a = sigpad.encode([PenReport(1, 1, 0, True, True, 0, 0, 0, 2**32 - 1000)], 7)[0]
    b = sigpad.encode([PenReport(2, 2, 0, True, True, 0, 0, 0, 1000)], 10)[0]  # 8, 9 lost
    out = s.feed(a + b + sigpad.encode([Done(5)], 11)[0], now=0.0)
    assert [o.t_ms for o in out if isinstance(o, Sample)] == [4294966.296, 4294968.296]
    assert out[-1] == Done(5)
    assert s.stats.lost_frames == 2 and s.stats.frames == 3


def test_crc_errors_and_resyncs_counted():
    s = SampleStream("sigpad")
    good = sigpad.encode([Done(1)], 0)[0]
    s.feed(b"\x07\x07" + sigpad.corrupt(good) + good, now=0.0)
    st = s.stats
    # "\x07\x07" runs into the damaged frame: one chunk, bad COBS or CRC
    assert st.resyncs == 1 and st.frames == 1 and st.skipped_bytes == 2 + len(good)


def test_split_feed_keeps_partial_frame():
    s = SampleStream("sigpad")
    data = sigpad.encode([PenReport(3, 4, 100, True, True, 0, 0, 0, 0)], 0)[0]
    assert s.feed(data[:7], now=0.0) == []
    (sample,) = s.feed(data[7:], now=0.0)
    assert (sample.x, sample.y, sample.pressure) == (3.0, 4.0, 100 / 4095)
