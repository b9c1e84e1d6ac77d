"""The fleet on loopback: a real nats-server (JetStream) and kiosks in this process.

    python -m bench.bench_fleet [--users 10000] [--rounds 50] [--kiosks 50] [--events 200]

One JSON line each:

* ``enrol_to_usable``: enrolment queued at kiosk a (sealed, outbox) -> pushed
  -> pulled and applied at kiosk b -> ``Store.load`` there: p50/p99 ms over
  ``--rounds`` users (one connection per kiosk, as a running kiosk keeps).
* ``sync_users``: ``--users`` records put in the bucket, then a new kiosk pulls
  them from nothing: seconds to publish, seconds to apply them all, MB in the
  hub's stream and in the new kiosk's store; then the seconds it takes to read
  the audit stream so far (the other measurements' events) for its lockout.
* ``audit_throughput``: ``--kiosks`` connections (each its own credentials and
  permissions), each sending ``--events`` decisions one after the other as
  the outbox does (waiting for each ack): events per second the hub takes.
* ``rederive``: ``--rederive`` more users' records, then every record in the
  bucket (the other measurements' too, all with their enrolment signatures)
  re-derived under another model (``sigpad fleet rederive``): seconds, ms per
  user and what 10,000 users take at that rate.
* ``decision_latency``: the kiosk's verify latency (median of 60) alone and
  while a sync loop applies other users' records to the same store: ratio.

Nothing is asserted; figures depend on the machine (docs/fleet.md).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.app.demo import UNSEEN_SEED_BASE
from edge.app.fleet import records
from edge.app.fleet.demo import LocalKiosk
from edge.app.fleet.link import Credentials, Link
from edge.app.fleet.localhub import LocalHub
from edge.app.fleet.rederive import rederive_all
from edge.app.fleet.sealing import seal
from edge.app.fleet.state import FleetState
from edge.app.fleet.subjects import KV_STREAM, audit_subject
from edge.app.fleet.sync import SyncReport
from edge.model import Encoder, shipped_model_dir
from edge.settings import Settings
from edge.verifier import Verifier
from firmware_bridge import synthetic
from firmware_bridge.signature import Signature
from firmware_bridge.svc2004 import format_signature


def link_of(kiosk: LocalKiosk) -> Credentials:
    return Credentials(kiosk.url, kiosk.name, kiosk.seed)


def template_record(kiosk: LocalKiosk, user: str) -> dict[str, Any]:
    return records.export(kiosk.fleet.store, user, kiosk.fleet.kiosk, "bench")


async def enrol_to_usable(a: LocalKiosk, b: LocalKiosk, base: dict[str, Any], rounds: int) -> dict[str, Any]:
    la, lb = await Link.open(link_of(a)), await Link.open(link_of(b))
    await b.fleet.sync(lb)
    times = []
    try:
        for i in range(rounds):
            user = f"usable{i}"
            records.apply(a.fleet.store, {**base, "user": user})          # enrolled at a (not timed)
            t0 = time.perf_counter()
            a.fleet.queue_enrolment(user, base["signatures"])
            await a.fleet.push(la, SyncReport())
            await b.fleet.pull_templates(lb, SyncReport())
            b.fleet.store.load(user, base["model_sha"])
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        await la.close()
        await lb.close()
    return {"bench": "fleet", "what": "enrol_to_usable", "rounds": rounds,
            "p50_ms": round(float(np.percentile(times, 50)), 2), "p99_ms": round(float(np.percentile(times, 99)), 2)}


async def sync_users(a: LocalKiosk, late: LocalKiosk, hub: LocalHub, base: dict[str, Any], users: int) -> dict:
    link = await Link.open(link_of(a))
    t0 = time.perf_counter()
    try:
        for i in range(users):
            user = f"user{i:05d}"
            await link.put(user, seal(a.fleet.keys, user, base["model_sha"], {**base, "user": user}), 0)
        published = time.perf_counter() - t0
        stream = await link.js.stream_info(KV_STREAM)
    finally:
        await link.close()
    link = await Link.open(link_of(late), 5.0)
    report = SyncReport()
    try:
        t0 = time.perf_counter()
        await late.fleet.pull_templates(link, report)
        synced = time.perf_counter() - t0
        t0 = time.perf_counter()
        await late.fleet.pull_attempts(link, report)
        audit = time.perf_counter() - t0
    finally:
        await link.close()
    store = late.fleet.store.path
    store_bytes = sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))
    return {"bench": "fleet", "what": "sync_users", "users": users, "applied": report.applied,
            "publish_s": round(published, 2), "sync_s": round(synced, 2),
            "hub_stream_mb": round(stream.state.bytes / 1e6, 2), "kiosk_store_mb": round(store_bytes / 1e6, 2),
            "audit_events_read": report.attempts, "audit_read_s": round(audit, 2)}


async def audit_throughput(hub: LocalHub, kiosks: int, events: int) -> dict[str, Any]:
    links = []
    for k in range(kiosks):
        creds = json.loads(hub.creds(f"k{k:02d}").read_text())
        links.append(await Link.open(Credentials(hub.url, f"k{k:02d}", creds["nkey_seed"]), 5.0))

    async def send(k: int, link: Link) -> None:
        for e in range(events):
            event = {"event": "decision", "user": f"u{e}", "kiosk": f"k{k:02d}", "at": time.time(),
                     "accepted": False, "reason": "no-match", "score": -1.0, "id": os.urandom(16).hex()}
            await link.publish_audit(audit_subject(f"k{k:02d}", f"u{e}"), json.dumps(event).encode(), event["id"])
    t0 = time.perf_counter()
    await asyncio.gather(*(send(k, link) for k, link in enumerate(links)))
    seconds = time.perf_counter() - t0
    for link in links:
        await link.close()
    return {"bench": "fleet", "what": "audit_throughput", "kiosks": kiosks, "events": kiosks * events,
            "seconds": round(seconds, 2), "events_per_s": round(kiosks * events / seconds)}


def decision_latency(a: LocalKiosk, b: LocalKiosk, base: dict[str, Any], writer: Any) -> dict[str, Any]:
    assert b.verifier is not None
    sigs = [writer.genuine(i) for i in range(10, 130)]

    def median_ms(batch: list[Signature]) -> float:
        assert b.verifier is not None
        return statistics.median(b.verifier.verify("ada", s).latency_ms for s in batch)
    alone = median_ms(sigs[:60])
    stop = threading.Event()

    def churn() -> None:                                     # other users' records arriving meanwhile
        syncing = dataclasses.replace(b.fleet, state=FleetState(b.fleet.state.path))  # its own thread's

        async def loop() -> None:
            la, lb = await Link.open(link_of(a)), await Link.open(link_of(b))
            i = 0
            while not stop.is_set():
                user = f"churn{i}"
                await la.put(user, seal(a.fleet.keys, user, base["model_sha"], {**base, "user": user}), 0)
                await syncing.pull_templates(lb, SyncReport())
                i += 1
            await la.close()
            await lb.close()
        asyncio.run(loop())
        syncing.state.close()
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        busy = median_ms(sigs[60:])
    finally:
        stop.set()
        thread.join()
    return {"bench": "fleet", "what": "decision_latency", "applied_meanwhile": syncing_count(b),
            "alone_ms": round(alone, 2),
            "with_sync_ms": round(busy, 2), "ratio": round(busy / alone, 2)}


async def rederive_users(a: LocalKiosk, base: dict[str, Any], signatures: list[str], users: int) -> dict:
    """``users`` records with their signatures, re-derived under the other kind's model (a stand-in
    for a new model): seconds per user, and what 10,000 users would take at that rate."""
    link = await Link.open(link_of(a))
    try:
        for i in range(users):
            user = f"rederive{i:04d}"
            record = {**base, "user": user, "signatures": signatures}
            await link.put(user, seal(a.fleet.keys, user, base["model_sha"], record), 0)
        verifier = Verifier(Encoder(shipped_model_dir(False)), a.fleet.store, Settings())
        done = await rederive_all(link, a.fleet.keys, verifier)
    finally:
        await link.close()
    per_user = done.seconds / max(done.rederived, 1)
    return {"bench": "fleet", "what": "rederive", "users": done.rederived, "seconds": done.seconds,
            "ms_per_user": round(per_user * 1000, 1), "estimated_10000_s": round(per_user * 10_000)}


def syncing_count(b: LocalKiosk) -> int:
    return sum(1 for u in b.fleet.store.users() if u.user.startswith("churn"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--kiosks", type=int, default=50)
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--rederive", type=int, default=200, help="users to re-derive under another model")
    args, _ = p.parse_known_args(argv)
    settings = Settings(lockout_after=0, adapt=False)
    encoder = Encoder(shipped_model_dir(True))
    names = {"a": ["enrol"], "b": ["enrol"], "late": []} | {f"k{k:02d}": [] for k in range(args.kiosks)}
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, LocalHub(Path(tmp) / "hub", names) as hub:
        a, b = (LocalKiosk(Path(tmp), n, hub, settings, encoder) for n in ("a", "b"))
        writer = synthetic.make_writer(UNSEEN_SEED_BASE + 1)
        a.enrol("ada", [writer.genuine(i) for i in range(5)])
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        texts = [format_signature(writer.genuine(i)) for i in range(5)]
        base = {**template_record(a, "ada"), "signatures": texts}   # as `sigpad fleet enroll` seals it
        for line in (asyncio.run(enrol_to_usable(a, b, base, args.rounds)),
                     decision_latency(a, b, base, writer),
                     asyncio.run(audit_throughput(hub, args.kiosks, args.events)),
                     asyncio.run(sync_users(a, LocalKiosk(Path(tmp), "late", hub, settings), hub, base,
                                            args.users)),
                     asyncio.run(rederive_users(a, base, texts, args.rederive))):
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
