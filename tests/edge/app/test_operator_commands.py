"""The operator's commands on real stores: status (with the real service up, and
without it), unlock (kept in the history), history."""

from __future__ import annotations

import json

import pytest
from service_harness import running

from edge.app.cli import main
from edge.app.config import Config
from firmware_bridge import svc2004
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

WRITER = make_writer(7_000_000_001)


@pytest.fixture
def sigpad(tmp_path, capsys):
    """``sigpad(*argv)`` -> (code, JSON, stderr), with a store, a socket path and 5 enrolment files."""
    toml = tmp_path / "c.toml"
    toml.write_text(f'[store]\npath = "{tmp_path}/t.db"\n[service]\nsocket = "{tmp_path}/c.sock"\n')
    names = []
    for i, s in enumerate([WRITER.genuine(i) for i in range(6)] + [WRITER.forgery(0), WRITER.genuine(10)]):
        svc2004.write(s, tmp_path / f"s{i}.TXT")
        names.append(str(tmp_path / f"s{i}.TXT"))

    def run(*argv):
        code = main([*argv, "--json", "--config", str(toml)])
        captured = capsys.readouterr()
        return code, json.loads(captured.out), captured.err
    run.enrol, run.forgery, run.genuine = names[:6], names[6], names[7]
    run.tmp = tmp_path
    return run


def test_lockout_status_unlock_and_history(sigpad):
    assert sigpad("enroll", "alice", "--file", *sigpad.enrol)[0] == 0
    code, out, _ = sigpad("verify", "alice", "--file", sigpad.forgery, "--lockout-after", "1")
    assert (code, out["reason"]) == (1, "no-match")
    code, out, _ = sigpad("status")
    assert code == 0 and out["store"]["users"] == 1 and out["service"]["up"] is False
    assert [u["user"] for u in out["store"]["locked_out"]] == ["alice"]
    assert 0 < out["store"]["locked_out"][0]["remaining_s"] <= 300
    code, out, err = sigpad("unlock", "alice")
    # the lock itself restarts the count (edge.lockout): 0 failures, most of 300 s left
    assert code == 0 and out["unlocked"] and out["failures"] == 0 and 200 < out["was_locked_s"] <= 300
    assert "WARNING unlocked alice by " in err        # logged
    assert sigpad("status")[1]["store"]["locked_out"] == []
    code, out, _ = sigpad("verify", "alice", "--file", sigpad.genuine, "--lockout-after", "1")
    assert (code, out["reason"]) == (0, "match")
    code, out, _ = sigpad("history", "alice")
    kinds = [r.get("reason") or r["event"] for r in out["history"]]
    assert code == 0 and kinds == ["match", "unlocked", "no-match"]       # newest first
    assert out["history"][0]["score"] == round(out["history"][0]["score"], 4) > 0.5
    assert out["history"][1]["by"] and out["failures"] == 0


@pytest.mark.parametrize("command", ["unlock", "history"])
def test_unknown_users(sigpad, command):
    sigpad("enroll", "alice", "--file", *sigpad.enrol)
    code, out, _ = sigpad(command, "bob")
    assert (code, out["reason"]) == (2, "unknown-user") and "t.db" in out["error"]


@pytest.mark.data
def test_status_asks_the_running_service(sigpad, model_dir):
    with VirtualPad("sigpad") as vpad:
        cfg = Config(store=sigpad.tmp / "t.db", model=model_dir, port=vpad.path, protocol="sigpad",
                     socket=sigpad.tmp / "c.sock", http="off")
        with running(cfg):      # until the socket answers (its file appears a moment before)
            code, out, _ = sigpad("status", "--model", str(model_dir))
    assert code == 0 and out["service"]["up"] is True and out["service"]["socket"] == str(cfg.socket)
    assert out["store"]["exists"] and out["store"]["users"] == 0


def test_verify_and_history_say_what_pulled_a_score_down(sigpad, capsys):
    assert sigpad("enroll", "alice", "--file", *sigpad.enrol)[0] == 0
    code, out, _ = sigpad("verify", "alice", "--file", sigpad.forgery)
    # the shipped fused score decides on "shape" parts: their standing is the score, below a
    # threshold below -1; the global features may name more (timing, pressure, size)
    assert (code, out["reason"]) == (1, "no-match") and out["score"] < 0 and "shape" in out["reasons"]
    forged = out["reasons"]
    code, out, _ = sigpad("verify", "alice", "--file", sigpad.genuine)
    assert (code, out["reason"]) == (0, "match")
    entries = sigpad("history", "alice")[1]["history"]
    assert [e.get("reasons") for e in entries] == [out["reasons"] or None, forged]
    assert main(["history", "alice", "--config", str(sigpad.tmp / "c.toml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "no-match" in lines[1] and lines[1].endswith("down: " + ", ".join(forged))
    assert ("down:" in lines[0]) == bool(out["reasons"])


def test_adaptations_listed_and_undone_and_kept_in_the_history(sigpad):
    with open(sigpad.tmp / "c.toml", "a") as f:
        f.write("[adaptation]\nenabled = true\nmargin = 0.0\n")
    assert sigpad("enroll", "alice", "--file", *sigpad.enrol)[0] == 0
    assert sigpad("adaptations", "alice")[1]["adaptations"] == []
    code, out, _ = sigpad("verify", "alice", "--file", sigpad.genuine)
    assert (code, out["reason"]) == (0, "match") and out["adapted"]
    score = out["score"]
    code, out, _ = sigpad("adaptations", "alice")
    [a] = out["adaptations"]
    assert code == 0 and a["score"] == pytest.approx(score, abs=1e-6) and a["undone"] is None
    assert f"reference {a['reference']} of 6" in sigpad("history", "alice")[1]["history"][0]["adapted"]
    code, out, err = sigpad("adaptations", "alice", "--undo")
    assert (code, out["undone"], out["restored"]) == (0, 1, 1) and "WARNING adaptations of alice undone" in err
    assert sigpad("adaptations", "alice")[1]["adaptations"][0]["undone"] is not None
    entry = sigpad("history", "alice")[1]["history"][0]
    assert (entry["event"], entry["adaptations"], entry["restored"]) == ("adaptations-undone", 1, 1) and entry["by"]
    code, out, _ = sigpad("adaptations", "bob", "--undo")
    assert (code, out["reason"]) == (2, "unknown-user")
