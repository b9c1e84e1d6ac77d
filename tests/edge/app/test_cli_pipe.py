"""A reader that leaves early costs no traceback (issue #23 item 10).

``sigpad users --json | head -c 10``, made certain: the pipe's read end is
closed before the command writes, so its first write meets EPIPE. The
command must end as it would have (exit 0: it listed the users) with
nothing on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def sigpad(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "edge.app.cli", *args], cwd=REPO, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_closed_stdout_ends_quietly_with_the_usual_exit_code(tmp_path):
    store = str(tmp_path / "t.db")
    assert sigpad("init", "--store", store).returncode == 0
    usual = sigpad("users", "--json", "--store", store)
    assert usual.returncode == 0 and usual.stdout.startswith(b"{")
    for args in (("users", "--json", "--store", store), ("users", "--store", store),
                 ("users", "--json", "--store", str(tmp_path / "none.db"))):
        read_end, write_end = os.pipe()
        os.close(read_end)                              # the reader has gone before the first write
        try:
            closed = sigpad(*args, stdout=write_end)
        finally:
            os.close(write_end)
        expected = sigpad(*args).returncode
        assert closed.returncode == expected, (args, closed.stderr)
        assert b"Traceback" not in closed.stderr and b"BrokenPipe" not in closed.stderr, closed.stderr
