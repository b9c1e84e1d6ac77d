"""A real fleet on loopback for the tests: nats-server from ``sigpad fleet init``'s config,
and kiosks that are separate ``sigpad fleet ...`` processes, each with its own store.

The hub is ``edge.app.fleet.localhub.LocalHub`` (a free loopback port,
retried on a collision).
Tests skip, saying why, where nats-server or nats-py is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge.app.fleet.localhub import LocalHub, nats_server
from edge.app.fleet.subjects import AUDIT_STREAM
from edge.keys import load_keys
from edge.store import Store

REPO = Path(__file__).resolve().parents[4]
NATS_SERVER = nats_server()


def need_fleet() -> None:
    if NATS_SERVER is None:
        pytest.skip("nats-server not installed (apt-get install nats-server)")
    try:
        import nats  # noqa: F401
    except ImportError:
        pytest.skip("nats-py not installed (pip install 'sigpad[fleet]')")


class Hub(LocalHub):
    """The test's hub, in ``root/hub``."""

    def __init__(self, root: Path, kiosks: dict[str, list[str]], tls: bool = False):
        super().__init__(root / "hub", kiosks, tls=tls)


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


def creds_of(kiosk: Kiosk) -> Any:
    """The kiosk's credentials for ``open_link`` (nats-py is imported only when a test runs)."""
    from edge.app.fleet.link import Credentials
    fleet = kiosk.store.parent / "fleet"
    conf = json.loads((fleet / "fleet.json").read_text())
    return Credentials(conf["url"], conf["kiosk"], (fleet / "kiosk.nk").read_text().strip(), conf.get("ca_cert"))


async def open_link(creds: Any) -> Any:
    from edge.app.fleet.link import Link
    return await Link.open(creds)


def stream_ids(kiosk: Kiosk) -> list[str]:
    """The ids of every message the hub's audit stream holds (not de-duplicated on reading)."""
    async def read() -> list[str]:
        link = await open_link(creds_of(kiosk))
        try:
            return [json.loads(seen.data)["id"] async for seen in link.read(AUDIT_STREAM, "sigpad.audit.>", 0)]
        finally:
            await link.close()
    return asyncio.run(read())


def stored(kiosk: Kiosk, user: str) -> list[bytes]:
    with Store(kiosk.store, load_keys(kiosk.store.parent / "store.key", create=False)) as store:
        sha = store.enrolled_model(user)
        assert sha is not None, f"{user} not enrolled at {kiosk.name}"
        return store.load(user, sha).templates


NATS_BLOCKED = r"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("nats", "nkeys", "nacl"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Block())
"""
"""The start of a child interpreter's script in which nats-py and nkeys (with PyNaCl, which it
needs) cannot be imported: a kiosk without the extra."""


def init_and_join(out: Path, store: Path, kiosk: str) -> None:
    """``sigpad fleet init`` and ``join`` for ``kiosk`` (here, with the extra: the operator's
    side), to a hub that is not there, for a kiosk run afterwards without the extra."""
    from edge.app.cli import main
    assert main(["fleet", "init", "--out", str(out), "--kiosks", kiosk]) == 0
    assert main(["fleet", "join", "nats://127.0.0.1:9", "--creds", str(out / "creds" / f"{kiosk}.json"),
                 "--store", str(store)]) == 0
