"""The sigpad CLI: JSON on stdout, exit codes 0 accept / 1 reject / 2 error."""

import json
import os
import subprocess
import sys

import pytest

from edge.app.cli import main

pytestmark = pytest.mark.data


@pytest.fixture
def cli(tmp_path, model_dir, capsys):
    """``cli(*argv)`` -> (exit code, parsed JSON on stdout) with a fresh store."""
    common = ["--json", "--store", str(tmp_path / "t.db"), "--model", str(model_dir)]

    def run(*argv):
        code = main([*argv, *common])
        out = capsys.readouterr().out.strip()
        return code, json.loads(out) if out else None
    return run


def files(task2, user, numbers):
    return [str(task2 / f"U{user}S{n}.TXT") for n in numbers]


def test_enrol_verify_list_delete(cli, task2):
    code, out = cli("enroll", "alice", "--file", *files(task2, 1, range(1, 7)))
    # a reference: the 64-byte embedding and, for the fused decision, its 320-byte DTW sequence
    assert code == 0 and out["enrolled"] and out["templates"] == 6 and 6 * out["template_bytes"] <= 4096
    code, out = cli("verify", "alice", "--file", *files(task2, 1, [8]))
    assert code == 0
    assert {"user", "accepted", "score", "threshold", "reason", "latency_ms"} <= set(out)
    assert out["accepted"] is True and out["user"] == "alice" and out["reason"] == "match"
    code, out = cli("verify", "alice", "--file", *files(task2, 1, [21]))
    assert (code, out["accepted"], out["reason"]) == (1, False, "no-match")
    code, out = cli("users")
    assert code == 0 and [u["user"] for u in out["users"]] == ["alice"]
    assert out["users"][0]["needs_reenrolment"] is False
    assert out["counters"] == {"enrolments": 1}
    code, out = cli("delete", "alice")
    assert (code, out["user"], out["deleted"]) == (0, "alice", True) and out["store"].endswith("t.db")
    code, out = cli("delete", "alice")   # the same reason, and exit code, as verify's unknown user
    assert (code, out["reason"]) == (2, "unknown-user") and "is not enrolled" in out["error"]
    code, out = cli("verify", "alice", "--file", *files(task2, 1, [8]))
    assert (code, out["accepted"], out["reason"]) == (2, False, "unknown-user")


def test_enrolment_errors(cli, task2, tmp_path):
    code, out = cli("enroll", "alice", "--file", *files(task2, 1, [1, 2, 3, 4, 5]), *files(task2, 2, [1]))
    assert code == 1 and out["outliers"] == [5] and "sign again" in out["error"]
    assert out["reason"] == "inconsistent"
    code, out = cli("enroll", "alice", "--file", str(tmp_path / "absent.txt"))
    assert (code, out["reason"]) == (2, "no-such-file") and "no such file" in out["error"]
    cli("enroll", "alice", "--file", *files(task2, 1, range(1, 7)))
    code, out = cli("enroll", "alice", "--file", *files(task2, 1, range(1, 7)))
    assert (code, out["reason"]) == (2, "already-enrolled") and "--replace" in out["error"]
    code, out = cli("enroll", "alice", "--replace", "--file", *files(task2, 1, range(2, 8)))
    assert code == 0


def test_garbage_file_is_an_error_to_fix(cli, task2, tmp_path):
    """A damaged file is the operator's to fix (exit 2, bad-file), not "sign again" (exit 1)."""
    cli("enroll", "alice", "--file", *files(task2, 1, range(1, 7)))
    junk = tmp_path / "junk.txt"
    junk.write_bytes(os.urandom(300))
    code, out = cli("verify", "alice", "--file", str(junk))
    assert (code, out["accepted"], out["reason"]) == (2, False, "bad-file")
    # the same file in an enrolment: the same reason and exit code
    code, out = cli("enroll", "bob", "--file", str(junk), *files(task2, 1, range(1, 6)))
    assert (code, out["reason"]) == (2, "bad-file")


def test_lockout_after_option(cli, task2):
    cli("enroll", "alice", "--file", *files(task2, 1, range(1, 7)))
    for n in (1, 2):
        code, out = cli("verify", "alice", "--lockout-after", "2", "--file", *files(task2, 2, [n]))
        assert out["reason"] == "no-match"
    code, out = cli("verify", "alice", "--lockout-after", "2", "--file", *files(task2, 1, [8]))
    assert (code, out["reason"]) == (1, "locked-out")


def test_missing_model_is_an_error_never_an_accept(cli, task2, tmp_path, capsys):
    code = main(["verify", "alice", "--json", "--store", str(tmp_path / "t.db"),
                 "--model", str(tmp_path / "none"), "--file", *files(task2, 1, [8])])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["accepted"] is False and out["reason"] == "error"
    assert "manifest" in out["detail"]


def test_real_process_exit_codes_and_streams(tmp_path, model_dir, task2):
    base = [sys.executable, "-m", "edge.app.cli"]
    common = ["--store", str(tmp_path / "t.db"), "--model", str(model_dir)]
    r = subprocess.run(base + ["enroll", "bob", *common, "--file", *files(task2, 1, range(1, 7))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("enrolled bob")
    r = subprocess.run(base + ["verify", "bob", *common, "--json", "--file", *files(task2, 2, [3])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and json.loads(r.stdout)["accepted"] is False
    r = subprocess.run(base + ["verify", "bob", "--config", str(tmp_path / "none.toml"), "--file", "x"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot read" in r.stderr


@pytest.mark.slow
def test_enrol_and_verify_on_a_pad(tmp_path, model_dir, task2, capsys):
    """``--port`` over a real pty: the virtual pad signs as the CLI prompts."""
    import threading
    import time

    from firmware_bridge import svc2004
    from firmware_bridge.virtual import VirtualPad

    def sig(n):
        return svc2004.read(task2 / f"U1S{n}.TXT")
    common = ["--json", "--store", str(tmp_path / "t.db"), "--model", str(model_dir)]
    with VirtualPad("sigpad", speed=8.0) as vpad:
        def writer(numbers):
            vpad.wait_streaming(10)
            for n in numbers:
                vpad.sign(sig(n), wait=True, timeout=30)
                time.sleep(0.2)
        for argv, numbers in ((["enroll", "alice"], [1, 2, 3, 4, 5, 6]), (["verify", "alice"], [8]),
                              (["verify", "alice"], [21])):
            t = threading.Thread(target=writer, args=(numbers,), daemon=True)
            t.start()
            code = main([*argv, "--port", vpad.path, "--protocol", "sigpad", "--timeout", "20", *common])
            out = json.loads(capsys.readouterr().out)
            t.join(30)
            if argv[0] == "enroll":
                assert code == 0 and out["templates"] == 6
            elif numbers == [8]:
                assert (code, out["accepted"], out["reason"]) == (0, True, "match")
            else:
                assert (code, out["accepted"], out["reason"]) == (1, False, "no-match")
