"""A power cut at the kiosk, replayed: the outbox keeps every record it acknowledged, and the
hub ends with each exactly once.

A writer process (under strace) appends audit records to the outbox with the
kiosk's own code (``FleetState.audit``), says "ACK <id>" once each returned,
and pushes to a real hub every few records (``FleetKiosk.push``: a row leaves
the outbox only after the hub acknowledged it, which the writer says: "HUB <id>"). From the trace, the disk as a
power cut would leave it is rebuilt at many points (``powercut``): only what
was fsynced, everything written, a write torn at a byte offset, or a random
part of what was written since the last sync. Each copy is opened by the
kiosk's code, checked, and pushed to the same hub, whose message-id
de-duplication must leave each record once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fleet_harness import REPO, open_link
from powercut import VARIANTS, disk_at, events, strace_argv, strace_usable, unsynced_at_acks

from edge.app.fleet.state import FleetState
from edge.app.fleet.subjects import AUDIT_STREAM

pytestmark = [pytest.mark.slow]
RECORDS, PUSH_EVERY, CUTS = 45, 10, 25
FILES = ("fleet.db", "fleet.db-wal")

# argv: the fleet directory, the hub's URL, the kiosk's seed. Run under strace.
WRITER = r"""
import asyncio, os, sys
from pathlib import Path
from edge.app.fleet.link import Credentials, Link
from edge.app.fleet.state import FleetState
from edge.app.fleet.sync import FleetKiosk, SyncReport
directory, url, seed, records, every = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
state = FleetState(directory / "fleet.db")
kiosk = FleetKiosk("k1", None, state, None, None)     # audit rows only: push touches the outbox alone

async def main():
    link = await Link.open(Credentials(url, "k1", seed), 10.0)
    publish = link.publish_audit

    async def said(subject, payload, msg_id):          # the hub's ack, said before push drops the row
        seq = await publish(subject, payload, msg_id)
        os.write(1, f"HUB {msg_id}\n".encode())
        return seq
    link.publish_audit = said
    for i in range(records):
        msg_id = state.audit("decision", f"u{i % 7}", "k1", accepted=False, reason="no-match", score=-1.0)
        os.write(1, f"ACK {msg_id}\n".encode())       # told: committed
        if i % every == every - 1:
            await kiosk.push(link, SyncReport())
    await link.close()
asyncio.run(main())
os.write(1, b"END\n")
"""


def hub_ids(creds) -> list[str]:
    """Every audit message's id in the hub's stream (not de-duplicated on reading)."""
    async def read() -> list[str]:
        link = await open_link(creds)
        try:
            return [json.loads(seen.data)["id"] async for seen in link.read(AUDIT_STREAM, "sigpad.audit.>", 0)]
        finally:
            await link.close()
    return asyncio.run(read())


def push_copies(creds, copies: list[Path]) -> None:
    """Each copy's outbox pushed to the hub by the kiosk's code, one link for all."""
    from edge.app.fleet.link import Link
    from edge.app.fleet.sync import FleetKiosk, SyncReport

    async def go() -> None:
        link = await Link.open(creds, 10.0)
        try:
            for copy in copies:
                state = FleetState(copy / "fleet.db")
                try:
                    await FleetKiosk("k1", None, state, None, None).push(link, SyncReport())
                    assert state.depth() == 0
                finally:
                    state.close()
        finally:
            await link.close()
    asyncio.run(go())


def outbox_of(copy: Path) -> list[tuple[str, dict]]:
    """(message id, payload) of each outbox row as the kiosk's code reopens the copy."""
    state = FleetState(copy / "fleet.db")
    try:
        assert state._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [(row.msg_id, json.loads(row.payload)) for row in state.pending()]
    finally:
        state.close()


@pytest.fixture
def traced(hub_for, tmp_path):
    """The writer's run: (its trace, the ACKed ids in order, the kiosk's credentials)."""
    why = strace_usable()
    if why is not None:
        pytest.skip(why)
    from edge.app.fleet.link import Credentials
    hub = hub_for({"k1": []})
    seed = json.loads(hub.creds("k1").read_text())["nkey_seed"]
    directory, log = tmp_path / "writer", tmp_path / "writer.strace"
    argv = [*strace_argv(log), sys.executable, "-c", WRITER, str(directory), hub.url, seed,
            str(RECORDS), str(PUSH_EVERY)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0 and r.stdout.endswith("END\n"), r.stderr[-3000:]
    acked = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("ACK ")]
    trace = events(log, FILES)
    assert [e.ack for e in trace if e.kind == "ack"] == acked and len(acked) == RECORDS
    return trace, acked, Credentials(hub.url, "k1", seed)


def test_the_outbox_syncs_each_record_before_acknowledging_it(traced):
    """The argument of state.py, checked on the writes themselves: the WAL has nothing unsynced
    when a record is acknowledged (enqueue commits with synchronous=FULL), and the rest of the
    time the connection runs WAL with synchronous=NORMAL, as the code says."""
    trace, acked, _ = traced
    assert sum(e.kind == "sync" for e in trace) >= len(acked)
    assert unsynced_at_acks(trace, "fleet.db-wal") == []


def test_a_power_cut_anywhere_loses_no_acknowledged_record_and_the_hub_keeps_each_once(traced, tmp_path):
    trace, acked, creds = traced
    end = next(i for i, e in enumerate(trace) if e.kind == "ack")
    rng = random.Random(21)
    after_acks = [i + 1 for i, e in enumerate(trace) if e.kind == "ack"]
    before_syncs = [i for i, e in enumerate(trace) if e.kind == "sync"]
    cuts = sorted(set(rng.sample(after_acks + before_syncs, CUTS) + rng.sample(range(end, len(trace) + 1), CUTS)))
    at_hub = set(hub_ids(creds))                  # what the writer's own pushes delivered
    assert at_hub == {e.ack for e in trace if e.kind == "hub"} and at_hub < set(acked)   # some still queued
    copies = []
    for n, cut in enumerate(cuts):
        told = {e.ack for e in trace[:cut] if e.kind == "ack"}
        hub_had = {e.ack for e in trace[:cut] if e.kind == "hub"}      # a row may leave the outbox
        for variant in VARIANTS:
            copy = tmp_path / f"cut{n}-{variant}"
            copy.mkdir()
            for path, data in disk_at(trace, cut, variant, rng).items():
                (copy / Path(path).name).write_bytes(data)
            rows = outbox_of(copy)
            ids = [msg_id for msg_id, _ in rows]
            assert len(ids) == len(set(ids)) and set(ids) <= set(acked), (cut, variant)
            assert all(payload["id"] == msg_id and payload["event"] == "decision" for msg_id, payload in rows)
            lost = told - set(ids) - hub_had
            assert not lost, f"cut after event {cut} ({variant}): {len(lost)} acknowledged records lost"
            copies.append(copy)
    push_copies(creds, copies)
    stream = Counter(hub_ids(creds))
    assert set(stream) == set(acked), "every record reached the hub"
    assert max(stream.values()) == 1, "the hub de-duplicated every re-sent record"


def test_the_outbox_runs_wal_with_normal_sync_outside_enqueue(tmp_path):
    state = FleetState(tmp_path / "fleet.db")
    try:
        assert state._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert state._db.execute("PRAGMA synchronous").fetchone()[0] == 1          # NORMAL
        state.audit("decision", "u", "k1")
        assert state._db.execute("PRAGMA synchronous").fetchone()[0] == 1          # back after FULL
    finally:
        state.close()
