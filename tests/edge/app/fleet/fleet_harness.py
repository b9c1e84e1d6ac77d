"""A real fleet on loopback for the tests: nats-server from ``sigpad fleet init``'s config,
and kiosks that are separate ``sigpad fleet ...`` processes, each with its own store.

Ports: nats-server cannot take port 0 in a config a restart must reuse, so
``Hub`` picks a free one with a bound socket and retries on a collision.
Tests skip, saying why, where nats-server or nats-py is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edge.app.fleet.hubconf import init_fleet

REPO = Path(__file__).resolve().parents[4]
NATS_SERVER = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists()
                                              else None)
READY_S = 30.0          # generous: a busy machine starts a server slowly


def need_fleet() -> None:
    if NATS_SERVER is None:
        pytest.skip("nats-server not installed (apt-get install nats-server)")
    if importlib.util.find_spec("nats") is None:
        pytest.skip("nats-py not installed (pip install 'sigpad[fleet]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hub:
    """One nats-server with JetStream in ``root/hub``; ``kiosks``: name -> roles."""

    def __init__(self, root: Path, kiosks: dict[str, list[str]]):
        self.root, self.kiosks = root / "hub", kiosks
        self.proc: subprocess.Popen[bytes] | None = None
        self.store_dir = self.root / "jetstream"
        for _ in range(5):                      # another process may take the port we picked
            self.port = free_port()
            self.url = f"nats://127.0.0.1:{self.port}"
            self.written = init_fleet(self.root, self.url, f"127.0.0.1:{self.port}", self.store_dir, kiosks)
            if self.start(check=False):
                return
        raise RuntimeError(f"nats-server did not start: {self.log()[-2000:]}")

    def creds(self, kiosk: str) -> Path:
        return Path(self.written["creds"][kiosk])

    def log(self) -> str:
        path = self.root / "hub.log"
        return path.read_text() if path.exists() else ""

    def start(self, check: bool = True) -> bool:
        with open(self.root / "hub.log", "ab") as log:
            self.proc = subprocess.Popen([str(NATS_SERVER), "-c", self.written["hub_conf"]],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if check:
                    raise RuntimeError(f"nats-server exited: {self.log()[-2000:]}")
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server not ready in {READY_S} s: {self.log()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=READY_S)
        self.proc = None

    def files(self) -> list[Path]:
        return [p for p in self.store_dir.rglob("*") if p.is_file()]


class Kiosk:
    """One kiosk: its own store under ``root/<name>``, driven through the real CLI."""

    def __init__(self, root: Path, name: str, hub: Hub):
        self.name, self.hub = name, hub
        self.store = root / name / "store.db"
        joined = self.run("join", hub.url, "--creds", str(hub.creds(name)))
        assert joined["kiosk"] == name

    def cli(self, *args: str, link_timeout: float = 2.0) -> subprocess.CompletedProcess[str]:
        command, rest = args[0], list(args[1:])
        argv = [sys.executable, "-m", "edge.app.cli", "fleet", command, *rest, "--store", str(self.store),
                "--json", "--link-timeout", str(link_timeout)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO, env=env)

    def run(self, *args: str, link_timeout: float = 2.0) -> dict[str, Any]:
        r = self.cli(*args, link_timeout=link_timeout)
        assert r.stdout.strip(), f"{args}: no output; stderr: {r.stderr[-2000:]}"
        out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
        out["_rc"], out["_stderr"] = r.returncode, r.stderr
        return out

    def enrol(self, user: str, files: list[Path], **kw: Any) -> dict[str, Any]:
        return self.run("enroll", user, "--file", *map(str, files), **kw)

    def verify(self, user: str, file: Path, **kw: Any) -> dict[str, Any]:
        return self.run("verify", user, "--file", str(file), **kw)


def signatures(task2: Path, user: int, numbers: range | list[int]) -> list[Path]:
    return [task2 / f"U{user}S{n}.TXT" for n in numbers]
