"""``probe``: which pad speaks on a port, at which baud.

Against the virtual pad on a real pty (which ignores baud), and - for the
baud decision - against recorded bytes: the pad's own encoder output, and
what a UART reading at the wrong rate makes of it (``uart`` below samples
the line's bits at the reader's instants, as the hardware does).
"""

from __future__ import annotations

import pytest

from firmware_bridge.probe import Line, judge, lines_to_try, probe
from firmware_bridge.protocols import get
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad
from firmware_bridge.virtual.pad import reports_for

LISTEN = 0.3  # seconds per line setting: the virtual pad answers a query at once


def uart(data: bytes, sent_baud: int, read_baud: int) -> bytes:
    """The bytes a UART at ``read_baud`` (8N1) receives from ``data`` sent at ``sent_baud``.

    The line idles high; each byte is a low start bit, 8 data bits (LSB
    first) and a high stop bit. The reader waits for a falling edge, samples
    each data bit in the middle of where it expects it, and - as Linux does
    without PARMRK - hands over 0 for a byte whose stop bit reads low.
    """
    bits = [1] * 10
    for b in data:
        bits += [0, *((b >> k) & 1 for k in range(8)), 1]
    bits += [1] * 20

    def level(t: float) -> int:
        i = int(t * sent_baud)
        return 1 if i >= len(bits) else bits[i]

    out, t, end = bytearray(), 0.0, len(bits) / sent_baud
    step, rbit = 1 / (16 * max(sent_baud, read_baud)), 1 / read_baud
    while t < end:
        if level(t):
            t += step
            continue
        byte = sum(level(t + rbit * (k + 1.5)) << k for k in range(8))
        out.append(byte if level(t + rbit * 9.5) else 0)
        t += rbit * 9.5
        while t < end and not level(t):
            t += step
    return bytes(out)


def test_uart_model_is_exact_at_the_right_rate_and_garbles_at_a_wrong_one():
    data = bytes(range(256))
    assert uart(data, 38400, 38400) == data
    assert uart(data, 19200, 38400) != data and uart(data, 38400, 19200) != data
    # At half the rate, one received byte spans two sent ones: about half as many arrive.
    assert 0.4 < len(uart(data, 38400, 19200)) / len(data) < 0.6


@pytest.fixture(scope="module")
def isdv4_stream() -> bytes:
    """What an ISDV4 pad sends: its answer to the query, then one signature."""
    proto = get("isdv4")
    sig = make_writer(7_000_000_003).genuine(0)
    data, _ = proto.encode([proto.default_caps] + reports_for(sig, proto.default_caps, y_down=True), 0)
    return data


def test_lines_to_try():
    assert [(line.baud, line.parity, line.protocols) for line in lines_to_try()] == [
        (38400, "N", ("isdv4",)), (19200, "N", ("isdv4",)), (115200, "N", ("sigpad",)),
        (19200, "O", ("topaz",))]
    assert [line.baud for line in lines_to_try(["isdv4"])] == [38400, 19200]   # both ISDV4 rates
    # --baud: every protocol at that rate, one opening per parity
    assert [(line.baud, line.parity, line.protocols) for line in lines_to_try(None, 9600)] == [
        (9600, "N", ("isdv4", "sigpad")), (9600, "O", ("topaz",))]


@pytest.mark.parametrize("pad_baud, fix", [(38400, None), (19200, "use --baud 19200")])
def test_recorded_isdv4_is_found_at_the_rate_it_runs(isdv4_stream, pad_baud, fix):
    lines = lines_to_try(["isdv4"])                    # 38400 first, then 19200
    recordings = [(line, uart(isdv4_stream, pad_baud, line.baud)) for line in lines]
    v = judge("/dev/ttyUSB0", recordings)
    assert (v.protocol, v.baud) == ("isdv4", pad_baud)
    assert v.caps_reported and v.caps.max_pressure == 1023
    assert "pressure 0-1023" in v.verdict and f"isdv4 at {pad_baud} baud" in v.verdict
    assert (v.fix is None) if fix is None else (fix in v.fix)
    wrong = next(t for t in v.tried if t["baud"] != pad_baud)
    # the wrong rate hears bytes, but the few "packets" in them are chance (107 were sent)
    assert wrong["bytes"] > 0 and wrong["frames"]["isdv4"] < len(isdv4_stream) / 9 / 5


def test_recorded_bytes_at_no_right_rate_say_bytes_but_no_frames(isdv4_stream):
    recordings = [(line, uart(isdv4_stream, 9600, line.baud)) for line in lines_to_try()]
    v = judge("/dev/ttyUSB0", recordings)
    assert v.protocol is None and v.baud is None and v.bytes > 0
    assert "no frame of any protocol" in v.verdict and "--baud" in v.fix


def test_nothing_recorded_says_so():
    v = judge("/dev/ttyUSB0", [(line, b"") for line in lines_to_try()])
    assert (v.protocol, v.bytes) == (None, 0) and v.verdict.startswith("nothing received")
    assert "pen" in v.fix


def test_recorded_isdv4_heard_while_expecting_sigpad_names_the_protocol(isdv4_stream):
    v = judge("/dev/x", [(Line(115200, "N", ("sigpad",)), isdv4_stream)], wanted="sigpad")
    assert v.protocol == "isdv4" and "use --protocol isdv4" in v.fix


# --- against the virtual pad, on a real pty -------------------------------------------

def test_probe_finds_an_isdv4_pad_and_what_it_reports():
    with VirtualPad("isdv4") as vpad:
        v = probe(vpad.path, seconds=LISTEN)
    assert (v.protocol, v.baud, v.parity) == ("isdv4", 38400, "N")
    assert v.caps_reported and v.caps.max_pressure == 1023 and v.bytes >= 11 and v.fix is None
    assert v.to_dict()["protocol"] == "isdv4" and v.to_dict()["bytes"] == v.bytes


def test_probe_finds_a_sigpad_pad():
    with VirtualPad("sigpad") as vpad:
        v = probe(vpad.path, seconds=LISTEN)
    assert (v.protocol, v.baud) == ("sigpad", 115200) and v.caps_reported


def test_probe_with_the_wrong_protocol_names_the_right_one():
    # Only ISDV4's settings are tried, but the sigpad pad's heartbeats and CAPS
    # still arrive (a pty ignores baud): the bytes are decoded with every protocol.
    with VirtualPad("sigpad", heartbeat_s=0.1) as vpad:
        v = probe(vpad.path, ["isdv4"], seconds=0.6, wanted="isdv4")  # 5 or 6 beats a line
    assert v.protocol == "sigpad" and "not isdv4" in v.fix and "--protocol sigpad" in v.fix


def test_probe_of_a_silent_pad():
    with VirtualPad("topaz") as vpad:   # a Topaz pad sends nothing until the pen moves
        v = probe(vpad.path, ["topaz"], seconds=LISTEN)
    assert (v.protocol, v.bytes) == (None, 0) and "nothing received" in v.verdict


def test_probe_of_a_topaz_pad_being_signed_on():
    with VirtualPad("topaz") as vpad:
        vpad.sign(make_writer(7_000_000_001).genuine(0))
        v = probe(vpad.path, ["topaz"], seconds=0.6)
    assert (v.protocol, v.baud, v.parity) == ("topaz", 19200, "O") and not v.caps_reported
    assert "no pressure" in v.verdict
