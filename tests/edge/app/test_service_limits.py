"""The service trusts no one it should not, and has limits (issue #14's service part).

A squatted socket directory and a second instance are refused; a request
runs only once its line is complete; an abandoned verify frees the pad at
once; 1,000 idle connections cost no thread and little memory; a service
that cannot accept stops pinging the watchdog; writes need the right peer.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers.waiting import PATIENCE_S, wait_for
from service_harness import JUDGED, Notify, connect, enrol_directly, running

from edge.app.config import Config
from edge.app.runtime import secure_dir
from edge.app.service import serve
from edge.client import HttpClient, ServiceClient, runtime_dir
from edge.errors import ServiceError
from edge.verifier import open_verifier
from firmware_bridge.virtual import VirtualPad, synthetic_signatures

REPO = Path(__file__).resolve().parents[3]
WRITER = 7_000_000_001                 # the demo's synthetic writer 1: no dataset needed


def no_pad(tmp_path, model_dir, **kw) -> Config:
    return Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                  socket=tmp_path / "run" / "control.sock", http="off", **kw)


def test_squatted_socket_directory_is_refused(tmp_path, model_dir):
    squat = tmp_path / "run"
    squat.mkdir(mode=0o700)
    os.chmod(squat, 0o777)                      # anyone could have put a socket here
    cfg = no_pad(tmp_path, model_dir)
    with pytest.raises(ServiceError, match="lets others write"):
        serve(cfg)
    assert list(squat.iterdir()) == []          # nothing created, nothing listening
    os.chmod(squat, 0o700)
    squat.rename(tmp_path / "real")
    squat.symlink_to(tmp_path / "real")         # a symlink to somewhere else
    with pytest.raises(ServiceError, match="not a directory"):
        serve(cfg)
    if os.geteuid() == 0:                       # another user's directory, however private
        os.unlink(squat)
        squat.mkdir(mode=0o700)
        os.chown(squat, 65534, 65534)
        with pytest.raises(ServiceError, match="owned by uid 65534"):
            serve(cfg)


def test_fallback_directory_is_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert runtime_dir() == Path(f"/tmp/sigpad-{os.getuid()}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    made = secure_dir(runtime_dir())
    assert made == tmp_path / "sigpad" and made.stat().st_mode & 0o777 == 0o700


def test_second_instance_is_refused(tmp_path, model_dir):
    cfg = no_pad(tmp_path, model_dir)
    with running(cfg, wait_pad=False):
        with pytest.raises(ServiceError, match="another sigpad serve is running"):
            serve(cfg)
        with ServiceClient(cfg.socket) as c:
            assert c.ping() == {"event": "pong"}    # the first one still owns its socket


def test_unfinished_request_is_not_executed(tmp_path, model_dir):
    cfg = no_pad(tmp_path, model_dir)
    with open_verifier(cfg) as v:
        v.enrol("ab", list(synthetic_signatures(WRITER, 6)))
    with running(cfg, wait_pad=False):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(cfg.socket))
        s.sendall(b"delete ab")                    # no newline: the line never finished
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""                   # closed, with no answer
        s.close()
        with ServiceClient(cfg.socket) as c:
            assert [u["user"] for u in c.users()] == ["ab"]
            assert c.delete("ab")["deleted"] is True    # the same request, finished, runs


def test_an_abandoned_verify_frees_the_pad(tmp_path, model_dir):
    sigs = list(synthetic_signatures(WRITER, 2))
    with VirtualPad("sigpad", speed=8.0) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, port=vpad.path, protocol="sigpad",
                     socket=tmp_path / "run" / "control.sock", http="127.0.0.1:0")
        enrol_directly(cfg)
        with running(cfg):
            gone = ServiceClient(cfg.socket)
            gone.send("verify writer")
            assert gone.event()["message"] == "sign now"
            gone.close()                                 # the client left before signing
            with ServiceClient(cfg.socket) as c:
                wait_for(lambda: c.status()["busy"] is None, "the abandoned verify frees the pad")
                # the next person's signature answers the next request, not the abandoned one
                d = c.verify("writer", on_event=lambda e: vpad.sign(sigs[0]))
                assert d["event"] == "decision" and d["reason"] in JUDGED
                # the same over HTTP: a client that times out and leaves
                url = c.status()["url"]
                with pytest.raises(OSError):
                    HttpClient(url, timeout_s=0.5, token_file=tmp_path / "run" / "http.token").verify("writer")
                wait_for(lambda: c.status()["busy"] is None, "the abandoned HTTP verify frees the pad")
                # the pad is free by the time a decision arrives: asking again at once is no "busy"
                d = c.verify("writer", on_event=lambda e: vpad.sign(sigs[1]))
                c.send("verify writer")
                assert (d["event"], c.event()["event"]) == ("decision", "prompt")


def test_writes_need_the_services_user_root_or_its_group(tmp_path, model_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    run = Path(tempfile.mkdtemp(prefix="sigpad-peer-"))    # outside pytest's private tree
    cfg = no_pad(tmp_path, model_dir).replace(socket=run / "control.sock")
    with running(cfg, wait_pad=False):
        os.chmod(run, 0o711)                        # let uid 65534 reach the socket for this test
        os.chmod(cfg.socket, 0o666)
        answer = as_user(65534, lambda: _ping_and_delete(cfg.socket))
        assert answer == "pong delete: not allowed for uid 65534 (only the service's user, " \
                         "root or its writers_group)"
    shutil.rmtree(run)


def _ping_and_delete(path) -> str:
    with ServiceClient(path, trusted_uids={0}) as c:
        return f"{c.ping()['event']} {c.delete('alice')['error']}"


def as_user(uid: int, fn) -> str:
    """``fn()`` in a forked child running as ``uid``; its result (or error) as text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: drop to uid, answer, leave
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out = fn()
        except BaseException as exc:
            out = f"child failed: {exc!r}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return text


def test_a_client_refuses_a_service_run_by_someone_else(tmp_path, model_dir):
    cfg = no_pad(tmp_path, model_dir)
    with running(cfg, wait_pad=False), pytest.raises(ServiceError, match="is not the sigpad service"):
        ServiceClient(cfg.socket, trusted_uids={12345})     # as if we expected another uid


def serve_process(tmp_path, model_dir, config: str, env=None, preexec_fn=None):
    """``sigpad serve`` in a process of its own, and a first client: connected as soon as
    the service listens (the socket's file appears a moment before), held until the caller
    closes it (a client that had left might still be counted when the next ones come)."""
    (tmp_path / "sigpad.toml").write_text(config)
    (tmp_path / "run").mkdir(mode=0o700, exist_ok=True)
    with open(tmp_path / "serve.log", "w") as log:      # the child has its own copy
        proc = subprocess.Popen([sys.executable, "-m", "edge.app.cli", "serve", "--config",
                                 str(tmp_path / "sigpad.toml"), "--port", str(tmp_path / "no-pad"),
                                 "--socket", str(tmp_path / "run/c.sock"), "--store", str(tmp_path / "t.db"),
                                 "--model", str(model_dir)],
                                cwd=REPO, stdout=log, stderr=log, env={**os.environ, **(env or {})},
                                preexec_fn=preexec_fn)
    try:
        first = connect(tmp_path / "run/c.sock", alive=lambda: proc.poll() is None,
                        why=lambda: (tmp_path / "serve.log").read_text(), client=False)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, first


def proc_status(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"threads": int(fields["Threads"]), "rss_kb": int(fields["VmRSS"].split()[0])}


@pytest.mark.slow
def test_a_thousand_idle_connections(tmp_path, model_dir):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip(f"the fd limit ({hard}) is too low for 1,000 clients")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    proc, first = serve_process(tmp_path, model_dir, "[service]\nhttp = \"off\"\nidle_timeout_s = 3.0\n")
    clients = [first]
    try:
        path = str(tmp_path / "run/c.sock")
        before = proc_status(proc.pid)
        for _ in range(999):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            clients.append(s)
        # the first 16 (a quarter of max_clients: one process's share) are held, idle; the rest
        # are told so and closed, and another process still gets its answer meanwhile
        refused = 0
        for s in clients[16:]:
            s.settimeout(PATIENCE_S)
            refused += s.recv(200).startswith(b'{"event": "error", "error": "too many connections from this')
        assert refused == 984
        after = proc_status(proc.pid)                                 # all 1,000 were accepted by now
        other = subprocess.run([sys.executable, "-c", "import sys; from edge.client import ServiceClient; "
                                "print(ServiceClient(sys.argv[1]).ping())", path],
                               cwd=REPO, capture_output=True, text=True, timeout=PATIENCE_S)
        assert other.stdout.strip() == "{'event': 'pong'}", other.stderr
        assert after["threads"] == before["threads"]                  # no thread per client
        assert after["rss_kb"] - before["rss_kb"] < 20_000            # < 20 MB for 1,000 connections
        if shutil.which("ss"):                                        # the listen backlog (Send-Q)
            listing = subprocess.run(["ss", "-xl", "src", path], capture_output=True, text=True).stdout
            assert " 128 " in listing, listing
        clients[0].settimeout(PATIENCE_S)                             # idle ones are closed after 3 s
        assert b"idle for 3 s; closing" in clients[0].recv(200)
        with ServiceClient(path) as c:
            assert c.ping() == {"event": "pong"}
    finally:
        for s in clients:
            s.close()
        proc.terminate()
        assert proc.wait(PATIENCE_S) == 0, (tmp_path / "serve.log").read_text()


@pytest.mark.slow
def test_the_watchdog_stops_when_the_service_cannot_accept(tmp_path, model_dir, monkeypatch):
    notify = Notify(tmp_path / "notify", monkeypatch, watchdog_usec=200_000)
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))     # noqa: E731
    proc, first = serve_process(tmp_path, model_dir, "[service]\nhttp = \"off\"\nmax_clients = 200\n",
                         env={"NOTIFY_SOCKET": os.environ["NOTIFY_SOCKET"], "WATCHDOG_USEC": "200000"},
                         preexec_fn=limit)
    clients = [first]
    try:
        notify.until(lambda m: m == "WATCHDOG=1")
        for _ in range(60):                      # more than its file descriptors allow
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(tmp_path / "run/c.sock"))
            clients.append(s)
        wait_for(lambda: "cannot accept connections" in (tmp_path / "serve.log").read_text(),
                 lambda: f"the service's failure to accept; its log:\n{(tmp_path / 'serve.log').read_text()}")
        # the log line is written after the last ping before it (one thread does both), and a
        # datagram sent has arrived: what is queued now came before the failure
        notify.drain()
        notify.seen.clear()
        end = time.monotonic() + 1.5              # 7 pings would be due
        while time.monotonic() < end:
            try:
                notify.seen.append(notify.rx.recv(100).decode())
            except TimeoutError:
                pass
        assert "WATCHDOG=1" not in notify.seen
        assert proc.poll() is None                # alive, for systemd to restart
    finally:
        for s in clients:
            s.close()
        proc.terminate()
        proc.wait(PATIENCE_S)
