"""kill -9 of a kiosk mid-sync and of the hub mid-write: no audit event lost or doubled,
no template half-applied.

The moment of the kill is found by watching the hub (its stream grows) or the
kiosk's cursor, with generous bounds; each test checks that the kill did land
mid-way (some sent, some not) before it checks the recovery.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from fleet_harness import REPO, Kiosk, creds_of, open_link, signatures, stored, stream_ids

from edge.app.fleet.sealing import FleetKeys, read_private, seal
from edge.app.fleet.state import AUDIT, FleetState
from edge.app.fleet.subjects import AUDIT_STREAM, KV_STREAM

pytestmark = [pytest.mark.slow, pytest.mark.data]
EVENTS = 3000          # enough that a push takes a while on any machine
WAIT_S = 60.0


def queue_events(kiosk: Kiosk, n: int) -> set[str]:
    state = FleetState(kiosk.store.parent / "fleet" / "fleet.db")
    ids = set()
    for i in range(n):
        msg_id = uuid.uuid4().hex
        event = {"event": "decision", "user": f"u{i % 7}", "kiosk": kiosk.name, "at": time.time(),
                 "accepted": False, "reason": "no-match", "score": -1.0, "id": msg_id}
        state.enqueue(AUDIT, event["user"], json.dumps(event).encode())
        ids.add(msg_id)
    ids = {json.loads(r.payload)["id"] for r in state.pending()}
    state.close()
    return ids


def hub_count(kiosk: Kiosk, stream: str) -> int:
    async def count() -> int:
        link = await open_link(creds_of(kiosk))
        try:
            return await link.last_seq(stream)
        finally:
            await link.close()
    return asyncio.run(count())


def start_sync(kiosk: Kiosk) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "edge.app.cli", "fleet", "sync", "--store", str(kiosk.store), "--json"]
    return subprocess.Popen(argv, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT_S} s for {what}"
        time.sleep(0.01)


def test_a_kiosk_killed_mid_push_loses_and_doubles_nothing(hub_for, tmp_path):
    hub = hub_for({"a": []})
    a = Kiosk(tmp_path, "a", hub)
    ids = queue_events(a, EVENTS)
    proc = start_sync(a)
    wait_for(lambda: hub_count(a, AUDIT_STREAM) > 0, "the first event at the hub")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=WAIT_S)
    sent = hub_count(a, AUDIT_STREAM)
    assert 0 < sent < EVENTS, f"the kill did not land mid-push ({sent} of {EVENTS} sent)"
    assert a.run("sync")["outbox"] == 0
    at_hub = stream_ids(a)
    assert len(at_hub) == EVENTS and set(at_hub) == ids


def test_the_hub_killed_mid_write_loses_and_doubles_nothing(hub_for, tmp_path):
    hub = hub_for({"a": []})
    a = Kiosk(tmp_path, "a", hub)
    ids = queue_events(a, EVENTS)
    proc = start_sync(a)
    wait_for(lambda: hub_count(a, AUDIT_STREAM) > 0, "the first event at the hub")
    hub.stop(signal.SIGKILL)
    proc.wait(timeout=WAIT_S)                       # the kiosk gives up on the lost link
    hub.start()
    assert a.run("sync")["outbox"] == 0
    at_hub = stream_ids(a)
    assert len(at_hub) == EVENTS and set(at_hub) == ids


def test_a_kiosk_killed_mid_pull_holds_no_half_record(hub_for, tmp_path, task2):
    hub = hub_for({"a": ["enrol"], "b": []})
    a, b = Kiosk(tmp_path, "a", hub), Kiosk(tmp_path, "b", hub)
    assert a.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    template = stored(a, "alice")
    record = json.loads(json.dumps(_record_of(a, "alice")))
    users = [f"user{i:04d}" for i in range(400)]
    _put_all(a, users, record)
    proc = start_sync(b)
    state_path = b.store.parent / "fleet" / "fleet.db"
    wait_for(lambda: _cursor(state_path) > 2, "b applying records")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=WAIT_S)
    applied = _cursor(state_path)
    assert applied < 1 + len(users), "the kill did not land mid-pull"
    for user in users:                               # each user is there whole, or not at all
        try:
            assert stored(b, user) == template
        except AssertionError as exc:
            assert "not enrolled" in str(exc)
    assert b.run("sync")["outbox"] == 0
    assert all(stored(b, user) == template for user in users)


def _cursor(state_path) -> int:
    try:
        state = FleetState(state_path)
    except Exception:
        return 0
    try:
        return state.cursor("kv")
    finally:
        state.close()


def _record_of(kiosk: Kiosk, user: str) -> dict:
    from edge.app.fleet import records
    from edge.keys import load_keys
    from edge.store import Store
    with Store(kiosk.store, load_keys(kiosk.store.parent / "store.key", create=False)) as store:
        return records.export(store, user, kiosk.name, "crash-test")


def _put_all(kiosk: Kiosk, users: list[str], record: dict) -> None:
    keys = FleetKeys.from_json(read_private(kiosk.store.parent / "fleet" / "fleet.key", "key"), "key")

    async def put() -> None:
        link = await open_link(creds_of(kiosk))
        try:
            for user in users:
                await link.put(user, seal(keys, user, record["model_sha"], {**record, "user": user,
                                                                            "enrol_id": user}), 0)
            assert await link.last_seq(KV_STREAM) == 1 + len(users)
        finally:
            await link.close()
    asyncio.run(put())
