"""``sigpad render`` and the API's capture images: sizes honoured, bad paths and files named."""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor

import pytest
from service_harness import http_client, running

from edge.app.cli import main
from edge.app.config import Config
from edge.app.render import parse_size
from edge.client import ApiError
from firmware_bridge import recording
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

WRITER = make_writer(7_000_000_031)
PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def run(capsys, *argv) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def sig_file(tmp_path):
    path = tmp_path / "sig.json"
    recording.write(path, WRITER.genuine(0), "sigpad", "test", None)
    return path


def test_render_honours_size(tmp_path, sig_file, capsys):
    code, out = run(capsys, "render", str(sig_file), "--out", str(tmp_path / "x.png"), "--size", "320x100")
    assert code == 0 and (out["width"], out["height"]) == (320, 100)
    assert png_size((tmp_path / "x.png").read_bytes()) == (320, 100)


def test_render_into_a_missing_directory_is_a_clear_error(tmp_path, sig_file, capsys):
    out_path = tmp_path / "no-such-dir" / "x.png"
    code, out = run(capsys, "render", str(sig_file), "--out", str(out_path))
    assert code == 2 and f"no directory {out_path.parent}" in out["error"]
    assert "internal error" not in out["error"]


def test_render_of_a_damaged_file_is_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "U1S1.TXT"
    bad.write_text("3\n1 2 3 0 0 0 0\nnot numbers\n")
    code, out = run(capsys, "render", str(bad), "--out", str(tmp_path / "x.png"))
    assert code == 2 and out["reason"] == "bad-file" and "U1S1.TXT" in out["error"]


@pytest.mark.parametrize("text", ["600", "0x300", "8001x300", "axb", "600x300x2"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size(text)


def test_capture_images_take_a_size(tmp_path, model_dir):
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, port=vpad.path, protocol="sigpad",
                     socket=tmp_path / "control.sock", http="127.0.0.1:0", lift_timeout_s=0.5)
        with running(cfg):
            api = http_client(cfg)
            with api.stream() as events:
                answer = ThreadPoolExecutor(1).submit(api.capture)
                events.until("prompt")
                vpad.sign(WRITER.genuine(1))
                cid = answer.result(60)["capture_id"]
            assert png_size(api.call("GET", f"/v1/captures/{cid}.png", raw=True)) == (600, 300)
            assert png_size(api.call("GET", f"/v1/captures/{cid}.png?size=200x80", raw=True)) == (200, 80)
            assert b'width="90" height="40"' in api.call("GET", f"/v1/captures/{cid}.svg?size=90x40", raw=True)
            with pytest.raises(ApiError) as bad:
                api.call("GET", f"/v1/captures/{cid}.png?size=9x9", raw=True)
            assert bad.value.status == 400
