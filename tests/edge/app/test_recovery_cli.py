"""Recovery from the command line (issue #23, failure 12): one tampered user row in a real
SQLite file leaves the others working and names the way out, which works; a huge number
in the anchor is named, and ``sigpad repair-anchor`` rewrites it with the key, logged."""

from __future__ import annotations

import json
import sqlite3

import pytest

from edge.app.cli import main
from edge.app.report import EXIT_CODES
from edge.decision import Reason
from edge.keys import load_keys
from edge.store import Store

pytestmark = pytest.mark.data


@pytest.fixture
def enrolled(tmp_path, task2, model_dir):
    store = ["--store", str(tmp_path / "t.db"), "--model", str(model_dir), "--lockout-after", "0"]
    for user, writer in (("alice", 1), ("bob", 2)):
        files = [str(task2 / f"U{writer}S{i}.TXT") for i in range(1, 7)]
        assert main(["enroll", user, "--file", *files, *store]) == 0
    return store


def verify(store, task2, user, writer, n, capsys):
    code = main(["verify", user, "--file", str(task2 / f"U{writer}S{n}.TXT"), "--json", *store])
    return code, json.loads(capsys.readouterr().out.splitlines()[-1])


def test_one_tampered_user_row_names_the_way_out_and_the_others_keep_working(enrolled, tmp_path, task2, capsys):
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("UPDATE users SET failures=3 WHERE user_id='alice'")
    code, bob = verify(enrolled, task2, "bob", 2, 9, capsys)
    assert (code, bob["accepted"]) == (0, True)
    code, alice = verify(enrolled, task2, "alice", 1, 9, capsys)
    assert (code, alice["reason"]) == (EXIT_CODES[Reason.INTEGRITY], "template-integrity") and code == 2
    assert "only 'alice' is affected: re-enrol them (sigpad enroll alice --replace ...)" in alice["detail"]
    assert main(["unlock", "alice", *enrolled]) == 2
    assert "sigpad enroll alice --replace" in capsys.readouterr().err
    files = [str(task2 / f"U1S{i}.TXT") for i in range(1, 7)]
    assert main(["enroll", "alice", "--replace", "--file", *files, *enrolled]) == 0
    capsys.readouterr()
    code, alice = verify(enrolled, task2, "alice", 1, 10, capsys)
    assert (code, alice["accepted"]) == (0, True)


def test_a_huge_number_in_the_anchor_is_named_and_repair_anchor_rewrites_it(enrolled, tmp_path, task2, capsys):
    anchor = tmp_path / "t.db.gen"
    anchor.write_text("99999999999999999999\n")
    capsys.readouterr()
    assert main(["users", *enrolled]) == 2
    err = capsys.readouterr().err
    assert str(anchor) in err and "sigpad repair-anchor" in err
    assert main(["repair-anchor", "--json", *enrolled]) == 0
    out, err = capsys.readouterr()
    done = json.loads(out.splitlines()[-1])
    assert done["anchor"] == str(anchor) and done["generation"] == 2        # two enrolments: generation 2
    assert done["was"] == "generation 99999999999999999999 (plain format, no HMAC)"
    assert f"anchor {anchor} repaired" in err                                # logged
    code, bob = verify(enrolled, task2, "bob", 2, 9, capsys)
    assert (code, bob["accepted"]) == (0, True)
    with Store(tmp_path / "t.db", load_keys(tmp_path / "store.key")) as store:
        assert store.counters()["anchor_repairs"] == 1
