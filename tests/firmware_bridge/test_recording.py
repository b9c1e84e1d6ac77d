"""Recordings (sig.json): a round trip keeps every channel, and bad files are clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from firmware_bridge import recording, svc2004
from firmware_bridge.errors import DataFormatError
from firmware_bridge.protocols import get
from firmware_bridge.signature import Signature


def line_signature(pressure=True) -> Signature:
    n = 40
    t = 1000.0 + 10.0 * np.arange(n)                 # 100 Hz from an arbitrary clock origin
    return Signature.create(t_ms=t, x=np.arange(n) * 25.0, y=200 + np.sin(np.arange(n)) * 40,
                            pen_down=np.arange(n) % 13 != 12,
                            pressure=np.linspace(0.1, 0.9, n) if pressure else None, source="line")


def test_round_trip_keeps_channels_and_says_where_it_came_from(tmp_path):
    sig, caps = line_signature(), get("isdv4").default_caps
    path = recording.write(tmp_path / "sig.json", sig, "isdv4", "/dev/ttyUSB0", caps)
    data = json.loads(path.read_text())
    assert (data["format"], data["version"], data["rate_hz"]) == ("sigpad-recording", 1, 100.0)
    assert data["channels"] == ["t_ms", "x", "y", "pen_down", "pressure"]
    assert data["pad"]["protocol"] == "isdv4" and data["capabilities"]["max_x"] == caps.max_x
    assert data["samples"][1][:2] == [10, 25]        # time from the first sample, integers stay integers
    back = recording.read_signature_file(path)
    np.testing.assert_array_equal(back.t_ms, sig.t_ms - 1000.0)
    np.testing.assert_array_equal(back.x, sig.x)
    np.testing.assert_allclose(back.y, sig.y, atol=1e-6)
    np.testing.assert_array_equal(back.pen_down, sig.pen_down)
    np.testing.assert_allclose(back.pressure, sig.pressure, atol=1e-6)
    assert back.notes == ("recording of a isdv4 pad",)


def test_without_pressure_and_svc2004_files_still_read(tmp_path):
    sig = line_signature(pressure=False)
    back = recording.read(recording.write(tmp_path / "np.json", sig))
    assert back.pressure is None and "pressure" not in json.loads((tmp_path / "np.json").read_text())["channels"]
    (tmp_path / "U1S1.TXT").write_text(svc2004.format_signature(line_signature()))
    assert len(recording.read_signature_file(tmp_path / "U1S1.TXT")) == 40


def good() -> dict:
    return recording.to_dict(line_signature())


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other"), "not a sigpad recording"),
    (lambda d: d.update(version=2), "recording version 2 not supported"),
    (lambda d: d.update(channels=["x", "y"]), '"channels" must be'),
    (lambda d: d.update(samples=[]), '"samples" must be a non-empty list'),
    (lambda d: d["samples"].__setitem__(3, [1, 2]), "sample 3: expected a list of 5 numbers"),
    (lambda d: d["samples"][4].__setitem__(1, "12"), "sample 4: '12' is not a number"),
    (lambda d: d["samples"][5].__setitem__(1, 10 ** 400), "sample 5: .* is not a finite number"),
    (lambda d: d["samples"][6].__setitem__(3, 2), '"pen_down" values must be 0 or 1'),
    (lambda d: d["samples"][7].__setitem__(4, 1.5), "not a usable signature: .*pressure outside 0..1"),
])
def test_bad_recordings_name_what_is_wrong(change, message):
    data = good()
    change(data)
    with pytest.raises(DataFormatError, match=message):
        recording.from_dict(json.loads(json.dumps(data)), "x.json")


def test_unreadable_files(tmp_path, monkeypatch):
    (tmp_path / "bad.json").write_text('{"format": "sigpad-recording", ')
    with pytest.raises(DataFormatError, match="bad.json: not valid JSON"):
        recording.read_signature_file(tmp_path / "bad.json")
    (tmp_path / "deep.json").write_text("{" + '"a":[' * 100_000)
    with pytest.raises(DataFormatError, match="not valid JSON"):
        recording.read(tmp_path / "deep.json")
    monkeypatch.setattr(recording, "MAX_BYTES", 100)
    recording.write(tmp_path / "big.json", line_signature())
    with pytest.raises(DataFormatError, match="more than a recording may have"):
        recording.read(tmp_path / "big.json")
