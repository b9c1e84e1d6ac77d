"""SampleStream: units, clocks and counters over the pure decoders."""

from __future__ import annotations

from firmware_bridge.protocols import isdv4, sigpad
from firmware_bridge.protocols.base import Capabilities, Damage, Done, PenReport
from firmware_bridge.signature import Sample
from firmware_bridge.stream import SampleStream


def asked(protocol: str) -> SampleStream:
    """A stream whose host has just sent the capabilities query."""
    s = SampleStream(protocol)
    s.awaiting_caps = True
    return s


def test_isdv4_pressure_scaled_by_queried_maximum_and_host_time():
    s = asked("isdv4")
    caps = Capabilities(2000, 1100, 511, 0, 0)        # no tilt reported
    assert s.feed(isdv4.encode_query_reply(caps), now=1.0) == [caps] and not s.awaiting_caps
    out = s.feed(isdv4.encode_report(PenReport(10, 20, 511, True, True, 5, 5)), now=2.5)
    # ISDV4's y grows downward: 20 from the top of a 1100-high pad is 1080 from its bottom.
    assert out == [Sample(2500.0, 10.0, 1080.0, 1.0, True, None, None)]
    assert s.stats.frames == 2 and s.stats.samples == 1


def test_isdv4_capabilities_only_when_asked_and_plausible():
    # The injection: a well-formed query reply (max pressure 300) in
    # the middle of the stream, nobody having asked. It must change nothing.
    s = SampleStream("isdv4")
    injected = isdv4.encode_query_reply(Capabilities(26202, 16325, 300, 0, 0))
    assert s.feed(injected, now=0.0) == [Damage("caps")]
    assert s.caps == isdv4.DEFAULT_CAPS and s.stats.caps_refused == 1
    assert "not asked for" in s.caps_refused
    [sample] = s.feed(isdv4.encode_report(PenReport(10, 20, 1023, True, True, 0, 0)), now=0.1)
    assert sample.pressure == 1.0                      # still scaled by 1023, not 300
    # Asked, but implausible: a pen with no pressure levels, a 100-unit pad.
    for bad, why in ((Capabilities(26202, 16325, 0, 0, 0), "max_pressure 0 outside 255..1023"),
                     (Capabilities(100, 16325, 1023, 0, 0), "max_x 100 outside 1024..65535")):
        s.awaiting_caps = True
        assert s.feed(isdv4.encode_query_reply(bad), now=0.2) == [Damage("caps")]
        assert s.caps == isdv4.DEFAULT_CAPS and why in s.caps_refused
    assert s.stats.caps_refused == 3


def test_reports_beyond_the_pads_range_are_dropped_as_damage():
    s = SampleStream("isdv4")                          # 26202 x 16325, pressure 1023
    out = s.feed(isdv4.encode_report(PenReport(26203, 20, 100, True, True, 0, 0))
                 + isdv4.encode_report(PenReport(10, 16326, 100, True, True, 0, 0)), now=0.0)
    assert out == [Damage("range"), Damage("range")] and s.stats.out_of_range == 2
    t = SampleStream("sigpad")                         # 65535 x 65535, pressure 4095
    out = t.feed(sigpad.encode([PenReport(1, 1, 4096, True, True, 0, 0, 0, 0)], 0)[0], now=0.0)
    assert out == [Damage("range")]


def test_an_impossible_jump_is_damage():
    # ISDV4 defaults: diagonal hypot(26202, 16325) = 30871 units, crossed in no less
    # than 50 ms: 617.4 units/ms; at 133 Hz a report period is 7.52 ms, so two
    # reports read together may be at most 617.4 * 7.52 = 4642 units apart.
    # The first read bounds nothing (its bytes may have waited for long); the
    # second read's bytes were sent after the first read, at most 2 ms before.
    s = SampleStream("isdv4")
    pen = lambda x, y: isdv4.encode_report(PenReport(x, y, 500, True, True, 0, 0))  # noqa: E731
    s.feed(pen(20000, 9000), now=0.0)
    out = s.feed(pen(1000, 1000) + pen(5600, 1000) + pen(5600, 5700), now=0.002)
    assert [type(o).__name__ for o in out] == ["Sample", "Sample", "Damage", "Sample"]
    assert s.stats.jumps == 1                          # 4600 units is allowed, 4700 is not
    # Read 100 ms later the same 4700 units is an ordinary move (47 units/ms).
    out = s.feed(isdv4.encode_report(PenReport(5600, 1000, 500, True, True, 0, 0)), now=0.1)
    assert [type(o).__name__ for o in out] == ["Sample"]


def test_isdv4_vector_arrives_with_y_up():
    # The vector: x 26000, y 16000, p 1023, tilt 60/70, tip + proximity.
    s = asked("isdv4")
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
