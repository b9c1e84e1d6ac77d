"""A hub on this machine: ``nats-server`` with the config ``sigpad fleet init`` writes,
on a loopback port picked free, for the demo, the benchmarks and the tests.

nats-server cannot take port 0 in a config that a restart must reuse, so a
free port is picked with a bound socket and a collision (another process
took it meanwhile) is retried with another.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from ...errors import FleetError
from .hubconf import init_fleet

READY_S = 30.0          # generous: a busy machine starts a server slowly


def nats_server() -> str | None:
    found = shutil.which("nats-server")
    return found or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalHub:
    """nats-server with JetStream under ``root``; ``kiosks``: name -> roles; ``tls``: a ``tls://``
    hub with a certificate for 127.0.0.1 from a CA of its own (``init``'s), pinned in the credentials."""

    def __init__(self, root: Path, kiosks: dict[str, list[str]], tries: int = 5, tls: bool = False):
        server = nats_server()
        if server is None:
            raise FleetError("nats-server is not installed (apt-get install nats-server)")
        self.server, self.root, self.kiosks = server, root, kiosks
        self.proc: subprocess.Popen[bytes] | None = None
        self.store_dir = root / "jetstream"
        for _ in range(tries):
            self.port = free_port()
            self.url = f"{'tls' if tls else 'nats'}://127.0.0.1:{self.port}"
            self.written: dict[str, Any] = init_fleet(root, self.url, f"127.0.0.1:{self.port}", self.store_dir,
                                                      kiosks, ["127.0.0.1"] if tls else None)
            if self.start(check=False):
                return
        raise FleetError(f"nats-server did not start: {self.log()[-2000:]}")

    def creds(self, kiosk: str) -> Path:
        return Path(self.written["creds"][kiosk])

    def log(self) -> str:
        path = self.root / "hub.log"
        return path.read_text() if path.exists() else ""

    def start(self, check: bool = True) -> bool:
        """Start the server and wait until it takes connections; False if it exited (check: raise)."""
        with open(self.root / "hub.log", "ab") as log:
            self.proc = subprocess.Popen([self.server, "-c", self.written["hub_conf"]],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if check:
                    raise FleetError(f"nats-server exited: {self.log()[-2000:]}")
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        raise FleetError(f"nats-server not ready in {READY_S} s: {self.log()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=READY_S)
        self.proc = None

    def reload(self) -> None:
        """Re-read hub.conf (SIGHUP: what ``nats-server --signal reload=PID`` sends, checked
        with 2.9.10); the kiosks' nkeys and permissions change without a restart."""
        if self.proc is None or self.proc.poll() is not None:
            raise FleetError("nats-server is not running: nothing to reload")
        self.proc.send_signal(signal.SIGHUP)

    def files(self) -> list[Path]:
        return [p for p in self.store_dir.rglob("*") if p.is_file()]

    def __enter__(self) -> LocalHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
