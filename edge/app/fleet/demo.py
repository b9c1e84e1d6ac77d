"""``sigpad fleet demo`` (``make fleet-demo``): a hub and two kiosks on this machine.

The hub is a real nats-server (``localhub``); each kiosk has its own store,
fleet state and verifier in this process (``LocalKiosk``), and speaks to
the hub over TCP like any kiosk. The story: enrol at kiosk 1, verify at
kiosk 2, cut the link (stop the hub), enrol another writer at kiosk 1 and
verify there at once, heal, and see kiosk 2 verify the offline enrolment.
Signatures come from synthetic writers the model never saw (``edge.app.demo``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.signature import Signature

from ...decision import Decision
from ...errors import FleetError
from ...keys import load_keys
from ...model import Encoder
from ...settings import Settings
from ...store import Store
from ...verifier import Verifier, model_dir_of
from ..config import Config
from ..demo import demo_signatures
from ..report import OK, emit
from .localhub import LocalHub
from .sealing import FleetKeys, read_private
from .state import FleetState
from .sync import FleetKiosk, SyncReport


class LocalKiosk:
    """A kiosk in this process: store, fleet state and (with an encoder) a verifier."""

    def __init__(self, root: Path, name: str, hub: LocalHub, settings: Settings, encoder: Encoder | None = None):
        creds = read_private(hub.creds(name), "kiosk credentials")
        keys = FleetKeys.from_json(creds["fleet_key"], str(hub.creds(name)))
        self.url, self.name, self.seed = hub.url, name, creds["nkey_seed"]
        store = Store(root / name / "store.db", load_keys(root / name / "store.key"))
        self.verifier = None if encoder is None else Verifier(encoder, store, settings)
        self.enrol_count = settings.enrol_count
        self.fleet = FleetKiosk(name, store, FleetState(root / name / "fleet.db"), keys, settings.lockout,
                                settings.replay_history, creds)

    async def sync(self, timeout_s: float = 2.0) -> SyncReport | None:
        """One sync on a fresh connection; None if the hub is away."""
        from .link import Credentials, Link
        try:
            link = await Link.open(Credentials(self.url, self.name, self.seed), timeout_s)
        except FleetError:
            return None
        try:
            return await self.fleet.sync(link)
        finally:
            await link.close()

    def enrol(self, user: str, sigs: list[Signature]) -> None:
        assert self.verifier is not None
        self.verifier.enrol(user, sigs, replace=True)
        self.fleet.queue_enrolment(user)

    def verify(self, user: str, sig: Signature) -> Decision:
        assert self.verifier is not None
        decision = self.verifier.verify(user, sig)
        self.fleet.queue_decision(decision)
        return decision

    def close(self) -> None:
        self.fleet.state.close()
        self.fleet.store.close()


def run_fleet_demo(args: argparse.Namespace, cfg: Config) -> int:
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if not args.json:
            print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="sigpad-fleet-") as tmp:
        root = Path(tmp)
        encoder = Encoder(model_dir_of(cfg, True), backend=cfg.backend)
        with LocalHub(root / "hub", {"kiosk1": ["enrol"], "kiosk2": ["enrol"]}) as hub:
            say(f"hub: nats-server at {hub.url} (JetStream in {hub.store_dir})")
            one, two = (LocalKiosk(root, name, hub, cfg, encoder) for name in ("kiosk1", "kiosk2"))
            try:
                _story(hub, one, two, say)
            finally:
                one.close()
                two.close()
    if args.json:
        emit(args, {"lines": lines}, "")
    return OK


def _story(hub: LocalHub, one: LocalKiosk, two: LocalKiosk, say: Callable[[str], None]) -> None:
    _, sigs1, genuine1, forgery1 = demo_signatures(1, None)
    # Synthetic writer 2 signs a 0.6 s, two-stroke scribble that enrolment refuses as too
    # simple (edge.complexity), as it should, and writer 3's fifth signature is unlike its
    # others for the shipped model: the second writer is writer 4.
    _, sigs2, genuine2, _ = demo_signatures(4, None)
    count = one.enrol_count   # 6 by default: sigs2[6] (of 8) stays unused for the last verify
    one.enrol("ada", sigs1[:count])
    say(f"kiosk1: enrolled ada; sync: {_said(asyncio.run(one.sync()))}")
    say(f"kiosk2: sync: {_said(asyncio.run(two.sync()))}")
    say(f"kiosk2: verify ada (genuine): {_decided(two.verify('ada', genuine1))}")
    say(f"kiosk2: verify ada (forgery): {_decided(two.verify('ada', forgery1))}")
    hub.stop()
    say("link cut: the hub is stopped")
    one.enrol("grace", sigs2[:count])
    say(f"kiosk1: enrolled grace offline; sync: {_said(asyncio.run(one.sync(0.5)))}; "
        f"outbox {one.fleet.state.depth()}")
    say(f"kiosk1: verify grace at once: {_decided(one.verify('grace', genuine2))}")
    say(f"kiosk2: verify grace (not synced yet): {_decided(two.verify('grace', genuine2))}")
    hub.start()
    say("link healed: the hub is back")
    say(f"kiosk1: sync: {_said(asyncio.run(one.sync()))}")
    say(f"kiosk2: sync: {_said(asyncio.run(two.sync()))}")
    say(f"kiosk2: verify grace: {_decided(two.verify('grace', sigs2[6]))}")


def _said(report: SyncReport | None) -> str:
    if report is None:
        return "hub away, kept in the outbox"
    return (f"pushed {report.pushed}, applied {report.applied}, deleted {report.deleted}, "
            f"audit events read {report.attempts}")


def _decided(d: Decision) -> str:
    score = "-" if d.score is None else f"{d.score:.3f}"
    return f"{'ACCEPTED' if d.accepted else 'REJECTED'} ({d.reason}, score {score})"
