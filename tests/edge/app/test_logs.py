"""Logs journald can filter: a ``<N>`` priority on each line when stderr is
journald's stream, the native socket with ``SIGPAD_*`` fields when it is there,
and the pad retry loop backing off where it can be seen.

The real processes below are the real CLI; journald is stood in for by what it
looks at: ``$JOURNAL_STREAM`` naming stderr's device and inode, and a datagram
socket speaking its native protocol.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers.waiting import PATIENCE_S

from edge.app.logs import JournalHandler, PriorityFormatter, handler_for, priority, stderr_is_journal

ROOT = Path(__file__).resolve().parents[3]


def record(level: int, message: str, **extra) -> logging.LogRecord:
    r = logging.LogRecord("sigpad", level, __file__, 1, message, (), None)
    r.__dict__.update(extra)
    return r


def test_priorities_are_syslogs():
    assert [priority(level) for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                          logging.CRITICAL)] == [7, 6, 4, 3, 2]


def test_every_line_carries_the_prefix():
    f = PriorityFormatter("%(message)s")
    assert f.format(record(logging.WARNING, "no pad yet")) == "<4>no pad yet"
    assert f.format(record(logging.ERROR, "first\nsecond")) == "<3>first\n<3>second"


def test_journal_stream_is_recognised_by_device_and_inode(tmp_path):
    with open(tmp_path / "err", "w") as stream:
        st = os.fstat(stream.fileno())
        assert stderr_is_journal(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not stderr_is_journal(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not stderr_is_journal(stream, {})
        assert not stderr_is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})
        h = handler_for(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, tmp_path / "no-socket")
        assert isinstance(h.formatter, PriorityFormatter)


def fields_of(datagram: bytes) -> dict:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


def test_the_native_socket_gets_the_decision_fields(tmp_path):
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "journal"))
    h = JournalHandler(tmp_path / "journal")
    h.setFormatter(logging.Formatter("%(message)s"))
    h.emit(record(logging.INFO, "decision user=alice", sigpad={"user": "alice", "accepted": False,
                                                                "score": 0.5, "pad": None}))
    got = fields_of(rx.recv(4096))
    assert got == {"MESSAGE": "decision user=alice", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "sigpad",
                   "LOGGER": "sigpad", "SIGPAD_USER": "alice", "SIGPAD_ACCEPTED": "false",
                   "SIGPAD_SCORE": "0.5", "SIGPAD_PAD": ""}
    h.emit(record(logging.ERROR, "two\nlines"))   # journald's binary form for a newline
    data = rx.recv(4096)
    assert b"MESSAGE\n" + (9).to_bytes(8, "little") + b"two\nlines\n" in data and b"PRIORITY=3\n" in data
    rx.close()
    fallback = logging.StreamHandler(io.StringIO())
    h.fallback = fallback
    h.emit(record(logging.WARNING, "journald is gone"))   # nothing is lost
    assert fallback.stream.getvalue() == "journald is gone\n"


def journal_env(stderr_file: Path, socket_path: Path) -> dict:
    st = os.stat(stderr_file)
    return {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
            "SIGPAD_JOURNAL_SOCKET": str(socket_path), "PYTHONPATH": str(ROOT)}


def test_a_service_waiting_for_its_pad_logs_with_priorities_and_backs_off(tmp_path):
    """``sigpad serve`` without its pad, as systemd runs it: the first miss is a warning
    (``journalctl -p warning`` shows it), the retries are info, each says the next delay.

    The delays are read from the lines, not timed: the test waits for the third
    line (bounded by ``PATIENCE_S``, which only a failing run reaches), however
    long a busy machine takes to start the process and to wake it up."""
    err = tmp_path / "stderr"
    err.touch()
    with open(err, "w") as stream:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.app.cli", "serve", "--port", str(tmp_path / "no-pad"),
             "--store", str(tmp_path / "t.db"), "--socket", str(tmp_path / "c.sock"), "--http", "off"],
            stderr=stream, stdout=subprocess.DEVNULL, env=journal_env(err, tmp_path / "no-journal"))
        try:
            deadline = time.monotonic() + PATIENCE_S
            while err.read_text().count("no pad yet") < 3 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(PATIENCE_S)
    lines = [line for line in err.read_text().splitlines() if "no pad yet" in line]
    assert len(lines) >= 3, f"exit {proc.returncode}; stderr:\n{err.read_text()}"
    assert lines[0].startswith("<4>no pad yet (cannot open ") and lines[0].endswith("try 1 failed, next in 0.5 s")
    assert lines[1].startswith("<6>") and lines[1].endswith("try 2 failed, next in 1.0 s")
    assert lines[2].endswith("try 3 failed, next in 2.0 s")


def test_an_error_exit_is_at_error_priority(tmp_path):
    err = tmp_path / "stderr"
    err.touch()
    with open(err, "w") as stream:
        r = subprocess.run([sys.executable, "-m", "edge.app.cli", "users", "--store", str(tmp_path / "none.db")],
                           stderr=stream, stdout=subprocess.DEVNULL, timeout=PATIENCE_S,
                           env=journal_env(err, tmp_path / "no-journal"))
    assert r.returncode == 2
    assert err.read_text().startswith(f"<3>sigpad: no template store at {tmp_path}/none.db")


def test_a_decision_reaches_journald_with_its_fields(tmp_path):
    from edge.settings import Settings
    from edge.verifier import open_store
    from firmware_bridge import svc2004
    from firmware_bridge.synthetic import make_writer
    open_store(Settings(store=tmp_path / "t.db")).close()     # a store, and nobody in it
    svc2004.write(make_writer(7_000_000_002).genuine(0), tmp_path / "s.TXT")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "journal"))
    rx.settimeout(PATIENCE_S)
    err = tmp_path / "stderr"
    err.touch()
    with open(err, "w") as stream:
        r = subprocess.run([sys.executable, "-m", "edge.app.cli", "verify", "bob", "-v", "--store",
                            str(tmp_path / "t.db"), "--file", str(tmp_path / "s.TXT")],
                           stderr=stream, stdout=subprocess.DEVNULL, timeout=PATIENCE_S,
                           env=journal_env(err, tmp_path / "journal"))
    assert r.returncode == 2
    records = []
    rx.setblocking(False)
    while True:
        try:
            records.append(fields_of(rx.recv(65536)))
        except BlockingIOError:
            break
    decision = next(f for f in records if f["MESSAGE"].startswith("decision "))
    assert decision["SIGPAD_USER"] == "bob" and decision["SIGPAD_REASON"] == "unknown-user"
    assert decision["SIGPAD_ACCEPTED"] == "false" and decision["PRIORITY"] == "6"
    assert decision["SIGPAD_PAD"] == str(tmp_path / "s.TXT")
    assert any(f["MESSAGE"] == f"store {tmp_path}/t.db" for f in records)
