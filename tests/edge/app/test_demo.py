"""``sigpad demo``: virtual pad on a pty, enrol over the serial line, two decisions."""

import json

import pytest

from edge.app.cli import main

pytestmark = pytest.mark.slow


def run_demo(capsys, *argv):
    code = main(["demo", "--json", "--speed", "16", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_demo_needs_no_pad_and_no_dataset(model_dir, capsys):
    """The README's command: synthetic writer 1 (the default), the shipped model."""
    code, out = run_demo(capsys, "--model", str(model_dir))
    assert code == 0 and out["protocol"] == "sigpad" and out["writer"] == "synthetic writer 1"
    genuine, forgery = out["decisions"]["genuine"], out["decisions"]["skilled forgery"]
    assert genuine["latency_ms"] > 0 and genuine["threshold"] == forgery["threshold"]
    if "scratch" in str(model_dir):
        return  # a development model does not tell synthetic forgeries apart
    assert (genuine["accepted"], genuine["reason"]) == (True, "match")
    assert (forgery["accepted"], forgery["reason"]) == (False, "no-match")


@pytest.mark.data
def test_demo_replays_svc2004(model_dir, svc2004_root, capsys):
    code, out = run_demo(capsys, "--model", str(model_dir), "--data", str(svc2004_root), "--writer", "1")
    assert code == 0 and out["writer"] == "SVC2004 user 1"
    genuine, forgery = out["decisions"]["genuine"], out["decisions"]["skilled forgery"]
    assert (genuine["accepted"], genuine["reason"]) == (True, "match")
    assert (forgery["accepted"], forgery["reason"]) == (False, "no-match")


def test_demo_reports_a_missing_dataset(model_dir, tmp_path, capsys):
    code = main(["demo", "--json", "--model", str(model_dir), "--data", str(tmp_path)])
    assert code == 2 and "U1S1.TXT" in json.loads(capsys.readouterr().out)["error"]
