"""``sigpad capture`` records from a pad; ``--file`` takes the recording; ``sigpad render`` draws it;
``sigpad demo --web`` prints the kiosk page's URL."""

from __future__ import annotations

import json
import threading

import pytest

from edge.app import webdemo
from edge.app.cli import main
from firmware_bridge import recording
from firmware_bridge.virtual import VirtualPad
from firmware_bridge.virtual.__main__ import _parser, _signatures


@pytest.mark.data
def test_record_on_the_pad_then_verify_the_file(tmp_path, task2, model_dir, capsys):
    store = ["--store", str(tmp_path / "t.db"), "--model", str(model_dir), "--lockout-after", "0"]
    out = tmp_path / "sig.json"
    with VirtualPad("sigpad", speed=8.0) as vpad:
        result = []
        t = threading.Thread(target=lambda: result.append(main(
            ["capture", "--port", vpad.path, "--protocol", "sigpad", "--out", str(out), "--json",
             "--lift-timeout", "0.5"])))
        t.start()
        vpad.wait_streaming()
        vpad.sign(recording.read_signature_file(task2 / "U1S8.TXT"))
        t.join(60)
    assert result == [0]
    captured = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert captured["out"] == str(out) and captured["pressure"] is True
    assert captured["samples"] == 86   # U1S8 has 86 points
    rec = json.loads(out.read_text())
    assert rec["pad"]["protocol"] == "sigpad" and rec["capabilities"]["max_pressure"] > 0
    # enrol from SVC2004 files, verify the recording: judged and accepted
    assert main(["enroll", "alice", "--file", *[str(task2 / f"U1S{i}.TXT") for i in range(1, 7)], *store]) == 0
    assert main(["verify", "alice", "--file", str(out), "--json", *store]) == 0
    decision = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (decision["accepted"], decision["reason"]) == (True, "match")
    # the virtual pad replays it too
    args = _parser().parse_args(["--file", str(out)])
    assert len(_signatures(args)[0]) == captured["samples"]


def test_render_command(tmp_path, capsys):
    from firmware_bridge.synthetic import make_writer
    rec = recording.write(tmp_path / "s.json", make_writer(3).genuine(0))
    assert main(["render", str(rec), "--out", str(tmp_path / "s.png"), "--size", "300x120"]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["render", str(rec), "--out", str(tmp_path / "s.svg")]) == 0
    assert (tmp_path / "s.svg").read_text().startswith("<svg")
    assert main(["render", str(rec), "--out", str(tmp_path / "s.gif")]) == 2
    assert main(["render", str(rec), "--out", str(tmp_path / "s.png"), "--size", "big"]) == 2
    assert main(["render", str(tmp_path / "missing.json"), "--out", str(tmp_path / "m.png")]) == 2
    assert "--size 'big': expected WIDTHxHEIGHT" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_web_prints_the_kiosk_url(monkeypatch, capsys):
    monkeypatch.setattr(webdemo, "PAUSE_S", 0.0)
    assert main(["demo", "--web", "--rounds", "1", "--http", "127.0.0.1:0", "--speed", "8"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert "kiosk page: http://127.0.0.1:" in out.err      # for the operator, not the journal or a pipe
    assert "enrolled: 6" in lines[1]
    assert "genuine          ACCEPTED" in lines[2] and "skilled forgery  REJECTED" in lines[3]
