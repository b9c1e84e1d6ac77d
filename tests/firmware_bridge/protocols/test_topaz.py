"""Topaz: byte-exact packets, resync, properties."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from firmware_bridge.protocols import topaz
from firmware_bridge.protocols.base import PenReport, Skipped


def test_vector():
    # x=1000 = 7<<7 | 0x68, y=2000 = 15<<7 | 0x50; b0 = 0x80|0x40|0x01 = 0xc1.
    r = PenReport(1000, 2000, None, True, True)
    assert topaz.encode_report(r) == bytes.fromhex("c1 68 07 50 0f")
    assert topaz.decode(bytes.fromhex("c1 68 07 50 0f")) == ([r], b"")


def test_out_of_proximity_and_resync():
    events, rest = topaz.decode(bytes.fromhex("80 7f 1f 7f 1f") + b"\x01\x02" + b"\xc1\x00")
    assert events == [PenReport(4095, 4095, None, False, False), Skipped(2, "resync")]
    assert rest == b"\xc1\x00"


reports = st.builds(PenReport, x=st.integers(0, 4095), y=st.integers(0, 4095),
                    pressure=st.none(), tip=st.booleans(), proximity=st.booleans(),
                    tilt_x=st.none(), tilt_y=st.none(), buttons=st.just(0), t_us=st.none())


@given(st.lists(reports, max_size=20))
def test_round_trip(rs):
    assert topaz.decode(topaz.encode(rs)[0]) == (rs, b"")


@settings(max_examples=150)
@given(st.binary(max_size=40), st.lists(reports, min_size=1, max_size=5))
def test_never_raises_and_resyncs(garbage, rs):
    events, rest = topaz.decode(garbage + topaz.encode(rs)[0])
    assert [e for e in events if isinstance(e, PenReport)][-len(rs):] == rs and rest == b""
