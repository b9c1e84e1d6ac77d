"""``sigpad serve`` end to end: virtual pad on a pty, control socket, gpiozero's
MockFactory for the accept/reject lines, and a datagram socket standing in for
systemd's notify socket."""

import itertools
import socket

import pytest
from gpiozero.pins.mock import MockFactory
from helpers.waiting import PATIENCE_S, wait_for
from service_harness import Notify, running

from edge.app.config import Config
from edge.app.service import parse_request, sd_notify, watchdog_interval_s
from edge.client import ServiceClient
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.data]


def test_parse_request():
    assert parse_request("verify alice\n") == {"cmd": "verify", "user": "alice"}
    assert parse_request("enrol bob replace") == {"cmd": "enrol", "user": "bob", "replace": True}
    assert parse_request('{"cmd": "users"}') == {"cmd": "users"}
    for bad in ("", "  ", '{"cmd": 3}', "{not json"):
        with pytest.raises(ValueError):
            parse_request(bad)


def test_sd_notify_and_watchdog(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd_notify("READY=1") is False
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    assert sd_notify("READY=1")
    assert rx.recv(100) == b"READY=1"
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")   # meant for another process
    assert watchdog_interval_s() is None


def test_serve_enrol_verify_gpio_and_bad_clients(tmp_path, model_dir, sig, monkeypatch):
    notify = Notify(tmp_path / "notify", monkeypatch, watchdog_usec=200000)   # ping every 0.1 s
    pins = MockFactory()
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="off",
                     gpio_accept="GPIO17", gpio_reject="GPIO27", gpio_pulse_s=0.2)
        with running(cfg, pin_factory=pins):
            seen = notify.until(lambda m: m == "WATCHDOG=1")
            assert seen[0].startswith("READY=1\nSTATUS=")
            # "ready" comes with READY=1 when the pad was open by then, else in a STATUS of its own
            if not any("STATUS=ready: pad " in m for m in seen):
                notify.until(lambda m: m.startswith("STATUS=ready: pad "))
            c = ServiceClient(cfg.socket)
            # bad input first: each gets an error event, the service carries on
            for bad in (b"\xff\xfe garbage", b"{broken json", b"launch missiles",
                        b'{"cmd": "verify"}', b"verify no/such/user",
                        b'{"cmd": ' + b"[" * 4000):     # too deep for json
                c.sock.sendall(bad + b"\n")
                assert c.event()["event"] == "error", bad
            assert c.ping() == {"event": "pong"}

            vpad.sign(sig(1, 9), wait=True, timeout=PATIENCE_S)   # nobody asked: must not count
            prompts = []

            def sign_when_asked(e):
                prompts.append(e["message"])
                if e["message"].startswith("sign ("):
                    vpad.sign(sig(1, len(prompts)))
            e = c.enrol("alice", on_event=sign_when_asked)
            assert (e["event"], e["user"], e["templates"]) == ("enrolled", "alice", 6), e
            assert prompts[:2] == ["sign (1/6)", "sign (2/6)"]

            c.send('{"cmd": "verify", "user": "alice"}')
            assert c.event()["message"] == "sign now"
            with ServiceClient(cfg.socket) as busy:
                assert "busy" in busy.verify("alice")["error"]     # one pad, one writer
            vpad.sign(sig(1, 8))
            d = c.event()
            assert (d["event"], d["accepted"], d["reason"], d["user"]) == ("decision", True, "match", "alice")
            # each decision pulses its line once (0.2 s, in a thread of gpiozero's): the pins'
            # histories say so whenever the test looks, the pins' states only during the pulse
            accept, reject = pins.pin(17), pins.pin(27)
            wait_for(lambda: pulses(accept) == 1, "the accept line's pulse")
            assert pulses(reject) == 0

            d = c.verify("alice", on_event=lambda e: vpad.sign(sig(1, 21)))   # a skilled forgery
            assert (d["accepted"], d["reason"]) == (False, "no-match")
            wait_for(lambda: pulses(reject) == 1, "the reject line's pulse")
            assert pulses(accept) == 1

            assert [u["user"] for u in c.users()] == ["alice"]
            c.sock.close()                            # a client vanishing is harmless
            with ServiceClient(cfg.socket) as c2:
                assert c2.delete("alice") == {"event": "deleted", "user": "alice", "deleted": True}


def pulses(pin) -> int:
    """How many times a MockFactory pin went high (its history: (time, state) pairs)."""
    states = [state for _, state in pin.states]
    return sum(1 for before, after in itertools.pairwise(states) if not before and after)


def test_serve_is_there_before_its_pad(tmp_path, model_dir, monkeypatch):
    """The sockets listen and READY=1 goes out with no pad; status says it is missing."""
    notify = Notify(tmp_path / "notify", monkeypatch, watchdog_usec=200000)
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad-yet"),
                 socket=tmp_path / "c.sock", http="127.0.0.1:0")
    with running(cfg, wait_pad=False):
        seen = notify.until(lambda m: m == "WATCHDOG=1")       # alive while waiting
        assert seen[0].startswith("READY=1\nSTATUS=waiting for the pad")
        with ServiceClient(cfg.socket) as c:
            status = c.status()
            assert status["pad"]["present"] is False and status["model"] is None
            assert status["users"] == 0 and status["url"].startswith("http://127.0.0.1:")
            assert "no pad" in c.verify("alice")["error"]
    assert not cfg.socket.exists()
