"""``sigpad demo``: virtual pad on a pty, synthetic writer, no dataset needed."""

import json

import pytest

from edge.cli import main

DEMO_WRITER = 4   # a synthetic writer the model under test decides correctly


@pytest.mark.slow
def test_demo_with_a_synthetic_writer(model_dir, capsys):
    code = main(["demo", "--json", "--model", str(model_dir), "--writer", str(DEMO_WRITER),
                 "--speed", "16"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["protocol"] == "sigpad"
    genuine, forgery = out["decisions"]["genuine"], out["decisions"]["skilled forgery"]
    assert (genuine["accepted"], genuine["reason"]) == (True, "match")
    assert (forgery["accepted"], forgery["reason"]) == (False, "no-match")
    assert genuine["latency_ms"] > 0


def test_demo_reports_a_missing_dataset(model_dir, tmp_path, capsys):
    code = main(["demo", "--json", "--model", str(model_dir), "--data", str(tmp_path)])
    assert code == 2 and "U1S1.TXT" in json.loads(capsys.readouterr().out)["error"]
