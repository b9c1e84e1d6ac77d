"""``sigpad demo --web``: the service and its page on a virtual pad, a fresh signature each round.

It used to present the same genuine signature every round, which the verifier
rightly refused as a replay from the second round on.
"""

from __future__ import annotations

import re

import pytest

from edge.app import webdemo
from edge.app.cli import main
from edge.app.demo import demo_rounds

pytestmark = pytest.mark.slow


def test_demo_rounds_never_repeat_a_signature():
    rounds = demo_rounds(1, None)
    seen = [next(rounds) for _ in range(8)]
    assert [kind for kind, _ in seen] == ["genuine", "skilled forgery"] * 4
    prints = {sig.x.tobytes() + sig.y.tobytes() for _, sig in seen}
    assert len(prints) == 8


def test_web_demo_accepts_its_genuine_signature_every_round(model_dir, monkeypatch, capsys):
    monkeypatch.setattr(webdemo, "PAUSE_S", 0.1)
    code = main(["demo", "--web", "--rounds", "2", "--http", "127.0.0.1:0", "--speed", "16",
                 "--model", str(model_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    genuine = re.findall(r"^  genuine +(\S+)  (\S+)", out, re.M)
    forged = re.findall(r"^  skilled forgery +(\S+)  (\S+)", out, re.M)
    assert len(genuine) == len(forged) == 2, out
    assert all(reason != "replay" for _, reason in genuine + forged), out
    if "scratch" not in str(model_dir):       # a development model does not tell them apart
        assert genuine == [("ACCEPTED", "match")] * 2, out
