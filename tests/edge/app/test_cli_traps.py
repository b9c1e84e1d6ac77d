"""The traps of issue #15, each as the CLI meets it, with real stores, the real
models and the virtual pad on a real pty. Before the fix each of these either
created state, answered with a misleading reason, or asked someone to sign
for nothing.

Signatures are synthetic writers the model never saw (no dataset needed),
written as SVC2004 files where a command takes ``--file``.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from edge.app import config
from edge.app.cli import build_parser, main
from edge.app.report import OUTCOMES
from edge.errors import ConfigError
from firmware_bridge import svc2004
from firmware_bridge.signature import Signature
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

WRITER = make_writer(7_000_000_001)


def write(s: Signature, path, pressure: bool = True) -> str:
    """SVC2004 Task2 form, or without pressure Task1's four columns (x y t button)."""
    text = svc2004.format_signature(s)
    if not pressure:
        rows = text.split("\r\n")
        text = "\r\n".join([rows[0], *(" ".join(r.split()[:4]) for r in rows[1:] if r)]) + "\r\n"
    path.write_text(text, encoding="ascii", newline="")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """SVC2004 files: ``enrol`` (6, with pressure), ``genuine``, and their pressure-free twins."""
    d = tmp_path_factory.mktemp("sigs")
    out = {"enrol": [write(WRITER.genuine(i), d / f"e{i}.TXT") for i in range(6)],
           "enrol_flat": [write(WRITER.genuine(i), d / f"f{i}.TXT", False) for i in range(6)],
           "genuine": write(WRITER.genuine(10), d / "g.TXT"),
           "genuine_flat": write(WRITER.genuine(10), d / "gf.TXT", False),
           "forgery": write(WRITER.forgery(0), d / "forgery.TXT")}
    assert not svc2004.read(out["genuine_flat"]).has_pressure
    return out


@pytest.fixture
def cli(tmp_path, capsys):
    """``cli(*argv)`` -> (exit code, JSON on stdout or None, stderr), store and socket in tmp_path."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/state/t.db"\n[service]\nsocket = "{tmp_path}/none.sock"\n')

    def run(*argv, conf=cfg):
        code = main([*argv, "--json", "--config", str(conf)])
        captured = capsys.readouterr()
        out = captured.out.strip()
        return code, json.loads(out) if out else None, captured.err
    run.state = tmp_path / "state"
    run.config = cfg
    return run


# --- commands that read never write -------------------------------------------------------

@pytest.mark.parametrize("argv", [["users"], ["delete", "alice"], ["history", "alice"],
                                  ["unlock", "alice"], ["verify", "alice", "--file", "GENUINE"]])
def test_reading_a_missing_store_is_an_error_naming_it_and_creates_nothing(cli, files, argv):
    argv = [files["genuine"] if a == "GENUINE" else a for a in argv]
    code, out, err = cli(*argv)
    assert code == 2 and out["reason"] == "no-store"
    assert f"no template store at {cli.state}/t.db" in err and "enroll" in err
    assert not cli.state.exists()      # no directory, no empty database, no new key


def test_status_on_a_missing_store_reports_the_rest_and_exits_2(cli):
    code, out, _ = cli("status")
    assert code == 2 and out["store"] == {"path": f"{cli.state}/t.db", "exists": False}
    assert out["service"]["up"] is False and "not running" in out["service"]["why"]
    assert set(out["models"]) == {"pressure", "no_pressure"} and not cli.state.exists()


def test_only_enroll_and_init_create_a_store(cli, files):
    code, out, _ = cli("init")
    assert code == 0 and out["created"] is True and (cli.state / "t.db").exists()
    assert (cli.state / "store.key").stat().st_mode & 0o777 == 0o600
    assert cli("init")[1]["created"] is False
    code, out, _ = cli("users")
    assert code == 0 and out["users"] == [] and out["store"] == f"{cli.state}/t.db"


def test_json_and_verbose_name_the_store_and_the_model(cli, files):
    code, out, _ = cli("enroll", "alice", "--file", *files["enrol"])
    assert code == 0 and out["store"] == f"{cli.state}/t.db" and out["model"].endswith("models/pressure")
    code, out, err = cli("verify", "alice", "--file", files["genuine"], "-v")
    assert (code, out["reason"]) == (0, "match") and out["model"].endswith("models/pressure")
    assert f"INFO store {cli.state}/t.db" in err and "INFO model " in err and "sha256 " in err
    assert "decision user=alice accepted=true reason=match" in err
    assert cli("users")[1]["store"] == f"{cli.state}/t.db"


# --- reasons that name the cause -----------------------------------------------------------

def test_no_such_file_is_its_own_reason(cli, files, tmp_path):
    cli("enroll", "alice", "--file", *files["enrol"])
    code, out, _ = cli("verify", "alice", "--file", str(tmp_path / "U1S8.TXT"))
    assert (code, out["reason"], out["accepted"]) == (2, "no-such-file", False)
    code, out, _ = cli("enroll", "bob", "--file", str(tmp_path / "U1S1.TXT"))
    assert (code, out["reason"]) == (2, "no-such-file")


def test_the_pad_kind_is_named_not_a_model_change(cli, files):
    cli("enroll", "alice", "--file", *files["enrol"])             # a pad with pressure
    code, out, _ = cli("verify", "alice", "--file", files["genuine_flat"])  # one without
    assert (code, out["reason"]) == (2, "wrong-pad-kind")
    assert "enrolled on a pad with pressure and this pad has none" in out["detail"]


def test_every_reason_is_in_the_help_with_its_exit_code():
    text = build_parser().format_help()
    for reason, (code, _) in OUTCOMES.items():
        assert f"  {code}  {reason} " in text, reason


# --- safe settings -----------------------------------------------------------------------

def test_a_threshold_that_accepts_everything_is_refused(cli, files, tmp_path):
    # A cosine lies in [-1, 1]. (The shipped fused score has no lower end: its
    # DTW part is a distance; its range is checked the same way, see test_scores.)
    cli("enroll", "alice", "--file", *files["enrol"])
    code, out, err = cli("verify", "alice", "--file", files["forgery"], "--score", "centroid-max-cosine",
                         "--threshold", "-3")
    assert (code, out.get("accepted", False), out["reason"]) == (2, False, "error")  # refused at load
    assert "would accept every signature" in err
    toml = tmp_path / "t.toml"
    # No score named: the manifest's (fused), whose range the verifier knows from its
    # parameters; 100 lies above the most it can give (about 7 for the shipped one).
    # Refused first as outside what the folds saw; forced, as beyond what the score can give.
    toml.write_text(cli.config.read_text() + "[decision]\nthreshold = 100\n")
    code, out, err = cli("verify", "alice", "--file", files["forgery"], conf=toml)
    assert (code, out["accepted"]) == (2, False) and "[decision] threshold" in err
    assert "outside the scores the folds saw" in err
    toml.write_text(cli.config.read_text() + "[decision]\nthreshold = 100\nforce_threshold = true\n")
    code, out, err = cli("verify", "alice", "--file", files["forgery"], conf=toml)
    assert (code, out["accepted"]) == (2, False) and "would reject every signature" in err
    toml.write_text(cli.config.read_text() + '[decision]\nscore = "mean-cosine"\nthreshold = -2\n')
    with pytest.raises(ConfigError, match=f"{toml}: threshold -2 would accept"):
        config.load(toml)


def test_option_prefixes_are_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["verify", "alice", "--thresh", "0.5", "--file", "x"])
    assert caught.value.code == 2 and "unrecognized arguments: --thresh" in capsys.readouterr().err


def test_a_protocol_name_is_checked_when_the_settings_load(cli, tmp_path):
    toml = tmp_path / "w.toml"
    toml.write_text(cli.config.read_text() + '[pad]\nprotocol = "wacom"\n')
    with pytest.raises(ConfigError, match=r"pad protocol 'wacom': choose from isdv4, sigpad, topaz"):
        config.load(toml)
    code, _out, err = cli("users", conf=toml)   # even a command that opens no pad
    assert code == 2 and "wacom" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out.startswith("sigpad ")


# --- the pad: the configured port, and the user checked before anyone signs ----------------

def test_the_configured_port_is_used_and_an_unknown_user_hears_it_before_signing(cli, files, tmp_path):
    cli("enroll", "alice", "--file", *files["enrol"])
    with VirtualPad("sigpad") as vpad:
        toml = tmp_path / "p.toml"
        toml.write_text(cli.config.read_text() + f'[pad]\nport = "{vpad.path}"\nprotocol = "sigpad"\n')
        start = time.monotonic()
        code, out, err = cli("verify", "mallory", "--timeout", "60", conf=toml)  # no --port, no --file
    # refused at once: not after waiting out the timeout for a signature
    assert (code, out["reason"]) == (2, "unknown-user") and time.monotonic() - start < 60
    assert "sign now" not in err


def test_enrolled_already_or_locked_out_hear_it_before_signing(cli, files):
    cli("enroll", "alice", "--file", *files["enrol"])
    cli("verify", "alice", "--file", files["forgery"], "--lockout-after", "1")   # locked now
    with VirtualPad("sigpad") as vpad:
        code, out, err = cli("enroll", "alice", "--port", vpad.path, "--timeout", "30")
        assert (code, out["reason"]) == (2, "already-enrolled") and "sign (1/6)" not in err
        code, out, err = cli("verify", "alice", "--port", vpad.path, "--timeout", "30",
                             "--lockout-after", "1")
        assert (code, out["reason"]) == (1, "locked-out") and "sign now" not in err


def keep_sending(vpad: VirtualPad, data: bytes, stop: threading.Event) -> None:
    while not stop.wait(0.1):
        vpad.inject_garbage(data)


@pytest.mark.parametrize("protocol, garbage, reason, code, words", [
    ("topaz", None, "pad-silent", 2, "nothing received from"),
    ("topaz", bytes(range(0x20, 0x7F)) * 4, "pad-garbled", 2, "did not decode as topaz (19200 baud)"),
    ("sigpad", None, "capture-failed", 1, "the pen was never put down"),
    ("isdv4", None, "pad-garbled", 2, "did not decode as isdv4")])   # a sigpad pad read as ISDV4
def test_a_capture_that_times_out_says_what_the_pad_sent(cli, files, protocol, garbage, reason, code, words):
    has_pressure = protocol != "topaz"           # Topaz: the pressure-free model
    cli("enroll", "alice", "--file", *files["enrol" if has_pressure else "enrol_flat"])
    with VirtualPad("sigpad" if protocol == "isdv4" else protocol, heartbeat_s=0.2) as vpad:
        stop = threading.Event()
        if garbage:  # a pad at the wrong baud rate: bytes all the time, none of them a frame
            threading.Thread(target=keep_sending, args=(vpad, garbage, stop), daemon=True).start()
        try:
            got = cli("verify", "alice", "--port", vpad.path, "--protocol", protocol, "--timeout", "0.8")
        finally:
            stop.set()
    assert (got[0], got[1]["reason"]) == (code, reason) and words in got[1]["detail"], got
    assert "sign now" in got[2]


def test_auto_with_isdv4_explains(cli, files):
    cli("enroll", "alice", "--file", *files["enrol"])
    code, _out, err = cli("verify", "alice", "--port", "auto", "--protocol", "isdv4")
    assert code == 2 and "isdv4 pads have none" in err and "name the port" in err
