"""Every input failure is a decision or a clear error, in ``--json`` mode too (issue #14).

Each case is a file, a store or a model directory damaged the way the issue
found them; the CLI must answer with one JSON object on stdout (the decision
fields for ``verify``), a one-line reason on stderr and a meaningful exit
code - never a traceback.
"""

import json
import shutil
import sqlite3

import pytest

from edge.app.cli import main

pytestmark = pytest.mark.data


@pytest.fixture
def run(tmp_path, model_dir, capsys):
    """``run(*argv, store=...)`` -> (exit code, the JSON on stdout, stderr)."""
    def go(*argv, store=tmp_path / "t.db", model=model_dir):
        code = main([*argv, "--json", "--store", str(store), "--model", str(model)])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return code, json.loads(captured.out), captured.err
    return go


@pytest.fixture
def enrolled(run, task2):
    code, _, _ = run("enroll", "alice", "--file", *[str(task2 / f"U1S{n}.TXT") for n in range(1, 7)])
    assert code == 0
    return run


DECISION = {"user", "accepted", "score", "threshold", "reason", "latency_ms", "detail"}


def test_a_309_digit_number_is_a_bad_file_not_an_overflow(enrolled, task2, tmp_path):
    text = (task2 / "U1S8.TXT").read_text().splitlines()
    text[5] = " ".join(["9" * 309] + text[5].split()[1:])       # x of the fifth point
    bad = tmp_path / "overflow.TXT"
    bad.write_text("\n".join(text) + "\n")
    code, out, _err = enrolled("verify", "alice", "--file", str(bad))
    assert code == 2 and set(out) >= DECISION
    assert (out["accepted"], out["reason"]) == (False, "bad-file")
    assert "overflow.TXT:6: a number of 309 digits" in out["detail"]


def test_a_separator_in_a_number_is_refused_by_name(run, task2, tmp_path):
    text = (task2 / "U1S1.TXT").read_text().replace("\n", "\n", 1).splitlines()
    x = text[3].split()
    text[3] = " ".join([f"{x[0][:1]}_{x[0][1:]}"] + x[1:])       # e.g. 2_933: Python's int() takes it
    bad = tmp_path / "U1S1.TXT"
    bad.write_text("\n".join(text) + "\n")
    others = [str(task2 / f"U1S{n}.TXT") for n in range(2, 7)]
    code, out, _err = run("enroll", "alice", "--file", str(bad), *others)
    # a file that cannot be read as a signature is bad-file: exit 2, like a junk file in verify
    assert code == 2 and "is not an integer" in out["error"] and out["type"] == "DataFormatError"


def test_a_damaged_key_check_is_a_json_error(enrolled, task2, tmp_path):
    with sqlite3.connect(tmp_path / "t.db") as db:          # the TypeError
        db.execute("UPDATE meta SET value=5 WHERE key='key_check'")
    code, out, _err = enrolled("verify", "alice", "--file", str(task2 / "U1S8.TXT"))
    assert code == 2 and set(out) >= DECISION and out["accepted"] is False
    assert out["reason"] == "error" and "damaged store: its key check is not a sealed value" in out["detail"]
    code, out, _err = enrolled("users")
    assert code == 2 and out["type"] == "StoreError" and "key check" in out["error"]


def test_an_empty_store_is_reported_and_kept(enrolled, task2, tmp_path):
    (tmp_path / "t.db").write_bytes(b"")
    for leftover in ("t.db-wal", "t.db-shm"):
        (tmp_path / leftover).unlink(missing_ok=True)
    code, out, _err = enrolled("verify", "alice", "--file", str(task2 / "U1S8.TXT"))
    assert (code, out["reason"]) == (2, "error") and "store file is empty" in out["detail"]
    assert (tmp_path / "t.db").read_bytes() == b""           # not silently made a new store


def test_counters_reset_by_hand_are_tampering(enrolled, task2, tmp_path):
    code, out, _err = enrolled("verify", "alice", "--file", str(task2 / "U1S21.TXT"))
    assert (code, out["reason"]) == (1, "no-match")          # one failure counted
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("UPDATE users SET failures=0, locked_until=0")
    code, out, _err = enrolled("verify", "alice", "--file", str(task2 / "U1S8.TXT"))
    assert (code, out["accepted"], out["reason"]) == (2, False, "template-integrity")


def test_a_model_directory_with_an_edited_manifest(enrolled, task2, tmp_path, model_dir):
    edited = tmp_path / "model"
    shutil.copytree(model_dir, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["decision"] = {"score": "centroid-max-cosine", "threshold": -1}  # the issue: accepted a forgery
    (edited / "manifest.json").write_text(json.dumps(manifest))
    code, out, _err = enrolled("verify", "alice", "--file", str(task2 / "U1S21.TXT"), model=edited)
    assert (code, out["accepted"], out["reason"]) == (2, False, "error")
    assert "accept every signature" in out["detail"]
