"""``sigpad serve`` end to end: virtual pad on a pty, control socket, gpiozero's
MockFactory for the accept/reject lines, and a datagram socket standing in for
systemd's notify socket."""

import json
import socket
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from edge.app.config import Config
from edge.app.service import parse_request, sd_notify, serve, watchdog_interval_s
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.data]


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.settimeout(30)
        self.file = self.sock.makefile("rwb")

    def send(self, line):
        self.file.write(line if isinstance(line, bytes) else (line + "\n").encode())
        self.file.flush()

    def event(self):
        return json.loads(self.file.readline())

    def until(self, kind):
        seen = []
        while True:
            e = self.event()
            seen.append(e)
            if e["event"] == kind or e["event"] == "error":
                return e, seen


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
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    rx.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")   # ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    pins = MockFactory()
    stop = threading.Event()
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock",
                     gpio_accept="GPIO17", gpio_reject="GPIO27", gpio_pulse_s=0.2)
        result = []
        t = threading.Thread(target=lambda: result.append(serve(cfg, stop, pin_factory=pins)),
                             daemon=True)
        t.start()
        try:
            assert rx.recv(200).startswith(b"READY=1")
            assert rx.recv(200).startswith(b"STATUS=ready: pad ")
            assert rx.recv(200) == b"WATCHDOG=1"
            c = Client(cfg.socket)
            # bad input first: each gets an error event, the service carries on
            for bad in (b"\xff\xfe garbage\n", b"{broken json\n", b"launch missiles\n",
                        b'{"cmd": "verify"}\n', b"verify no/such/user\n",
                        b'{"cmd": ' + b"[" * 4000 + b"\n"):     # too deep for json
                c.send(bad)
                assert c.event()["event"] == "error", bad
            c.send("ping")
            assert c.event() == {"event": "pong"}

            vpad.sign(sig(1, 9))                      # nobody asked: must not count
            time.sleep(0.5)
            c.send("enrol alice")
            for s in range(1, 6):
                vpad.sign(sig(1, s))
            e, seen = c.until("enrolled")
            assert e == {"event": "enrolled", "user": "alice", "templates": 5}, seen
            assert [x["message"] for x in seen if x["event"] == "prompt"][:2] == ["sign (1/5)", "sign (2/5)"]

            c.send('{"cmd": "verify", "user": "alice"}')
            busy = Client(cfg.socket)
            time.sleep(0.2)
            busy.send("verify alice")                 # one pad, one writer
            assert "busy" in busy.event()["error"]
            vpad.sign(sig(1, 8))
            d, _ = c.until("decision")
            assert (d["accepted"], d["reason"], d["user"]) == (True, "match", "alice")
            time.sleep(0.05)
            accept, reject = pins.pin(17), pins.pin(27)
            assert accept.state == 1 and reject.state == 0
            assert any(state == 1 for _, state in accept.states[1:])

            c.send("verify alice")
            vpad.sign(sig(1, 21))                     # a skilled forgery
            d, _ = c.until("decision")
            assert (d["accepted"], d["reason"]) == (False, "no-match")
            time.sleep(0.05)
            assert reject.state == 1

            c.send("users")
            assert [u["user"] for u in c.event()["users"]] == ["alice"]
            c.sock.close()                            # a client vanishing is harmless
            c2 = Client(cfg.socket)
            c2.send("delete alice")
            assert c2.event() == {"event": "deleted", "user": "alice", "deleted": True}
        finally:
            stop.set()
            t.join(15)
    assert result == [0]


def test_serve_waits_for_a_missing_pad(tmp_path, model_dir, monkeypatch):
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    rx.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad-yet"),
                 socket=tmp_path / "c.sock")
    stop = threading.Event()
    result = []
    t = threading.Thread(target=lambda: result.append(serve(cfg, stop)), daemon=True)
    t.start()
    assert rx.recv(200).startswith(b"READY=1\nSTATUS=waiting for the pad")
    assert rx.recv(200) == b"WATCHDOG=1"          # alive while waiting
    stop.set()
    t.join(10)
    assert result == [0] and not cfg.socket.exists()
