"""The CLI and the client trust no squatter's socket (issue #23 item 6).

A process of another uid (nobody) listens where the service's socket
should be and answers like it. ``ServiceClient`` refuses it by its
``SO_PEERCRED`` uid, and ``sigpad status`` says the service is down and
why, instead of "service up". Needs root, to run the squatter as nobody.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edge.client import ServiceClient
from edge.errors import ServiceError

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def squat(path: Path) -> None:
    """In a forked child: become nobody (the interpreter's files need not be readable to it: no
    exec), listen at ``path``, and answer every connection like the service would."""
    try:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
        s.listen(8)
        while True:
            c, _ = s.accept()
            c.sendall(b'{"event": "pong"}\n{"event": "status", "api": 1}\n')
            c.close()
    finally:
        os._exit(0)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs the squatter as another uid (needs root)")


@pytest.fixture
def squatted():
    where = Path(tempfile.mkdtemp(prefix="squat-"))
    os.chmod(where, 0o777)                             # the squatter's own directory
    path = where / "control.sock"

    pid = os.fork()
    if pid == 0:
        squat(path)
    try:
        deadline = time.monotonic() + 30
        while not path.exists():
            assert time.monotonic() < deadline, "the squatter did not start"
            time.sleep(0.02)
        assert path.stat().st_uid == NOBODY
        yield path
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        path.unlink(missing_ok=True)
        where.rmdir()


def test_the_client_refuses_a_socket_served_by_another_uid(squatted):
    with pytest.raises(ServiceError, match=f"uid {NOBODY}.*is not the sigpad service"):
        ServiceClient(squatted)


def test_sigpad_status_calls_a_squatted_socket_down_and_says_why(squatted, tmp_path):
    (tmp_path / "sigpad.toml").write_text(f'[service]\nsocket = "{squatted}"\n')
    r = subprocess.run([sys.executable, "-m", "edge.app.cli", "status", "--config", str(tmp_path / "sigpad.toml"),
                        "--store", str(tmp_path / "none.db")], cwd=REPO, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    first = r.stdout.splitlines()[0]
    assert first.startswith("service  down:"), r.stdout
    assert f"uid {NOBODY}" in r.stdout and "not the sigpad service" in r.stdout, r.stdout
