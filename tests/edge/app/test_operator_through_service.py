"""The operator's commands while the service runs: they go through its control socket.

The store named on the command line does not exist, so a command that
answered must have asked the service (which holds the real store and the
pad); once the service stops, the same commands work alone on the store.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from service_harness import http_client, locked_out_store, running

from edge.app.cli import main
from edge.app.config import Config
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)
BOB = make_writer(7_000_000_021)


def cli(capsys, *argv) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def locked_out(tmp_path, model_dir):
    """A store whose user 'writer' is locked out by one failure (lockout after 1)."""
    return locked_out_store(Config(store=tmp_path / "t.db", model=model_dir, lockout_after=1, lockout_s=3600))


def test_operator_commands_go_through_the_running_service(tmp_path, locked_out, capsys):
    sock, elsewhere = tmp_path / "run" / "control.sock", str(tmp_path / "no-such" / "x.db")
    sock.parent.mkdir()
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = locked_out.replace(port=vpad.path, protocol="sigpad", socket=sock, http="127.0.0.1:0",
                                 lift_timeout_s=0.8)
        with running(cfg):
            via = ("--socket", str(sock), "--store", elsewhere)
            code, status = cli(capsys, "status", "--socket", str(sock))
            assert status["service"]["up"] is True
            code, users = cli(capsys, "users", *via)
            assert code == 0 and [u["user"] for u in users["users"]] == ["writer"]
            code, history = cli(capsys, "history", "writer", *via)
            assert code == 0 and history["locked_until"] > time.time()
            assert history["history"][0]["reason"] == "no-match"
            code, unlocked = cli(capsys, "unlock", "writer", *via)
            assert code == 0 and unlocked["unlocked"] is True and unlocked["was_locked_s"] > 0
            code, history = cli(capsys, "history", "writer", *via)
            assert history["locked_until"] == 0 and history["history"][0]["event"] == "unlocked"
            assert "control socket" in history["history"][0]["by"]
            code, listed = cli(capsys, "adaptations", "writer", *via)
            assert code == 0 and listed["adaptations"] == [] and listed["user"] == "writer"
            code, undone = cli(capsys, "adaptations", "writer", "--undo", *via)
            assert code == 0 and (undone["undone"], undone["restored"]) == (0, 0)
            entry = cli(capsys, "history", "writer", *via)[1]["history"][0]
            assert entry["event"] == "adaptations-undone" and "control socket" in entry["by"]
            assert cli(capsys, "adaptations", "nobody", *via)[0] == 2
            code, missing = cli(capsys, "unlock", "nobody", *via)
            assert code == 2 and "not enrolled" in missing["error"]

            with http_client(cfg).stream() as events:      # the pad is the service's: it prompts
                enrol = ThreadPoolExecutor(1).submit(cli, capsys, "enroll", "bob", *via)
                for i in range(6):
                    events.until("prompt")
                    vpad.sign(BOB.genuine(i))
                code, enrolled = enrol.result(120)
            assert code == 0 and enrolled["templates"] == 6
            code, deleted = cli(capsys, "delete", "bob", *via)
            assert code == 0 and deleted["deleted"] is True
            code, deleted = cli(capsys, "delete", "bob", *via)
            assert code == 2
    # no service now: the same commands work alone on the store itself
    alone = ("--socket", str(sock), "--store", str(locked_out.store))
    code, users = cli(capsys, "users", *alone)
    assert code == 0 and [u["user"] for u in users["users"]] == ["writer"] and "service" not in users
    code, status = cli(capsys, "status", "--socket", str(sock), "--store", str(locked_out.store))
    assert status["service"]["up"] is False
