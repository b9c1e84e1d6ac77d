"""Templates across a fleet: enrol at one kiosk, verify at the others, delete anywhere.

A real hub (nats-server, JetStream) and three kiosks, each a separate
process with its own store file; nothing of NATS is mocked.
"""

from __future__ import annotations

import pytest
from fleet_harness import Kiosk, signatures, stored

from firmware_bridge import svc2004
from firmware_bridge.svc2004 import format_signature

pytestmark = [pytest.mark.slow, pytest.mark.data]
ALL = ["enrol"]


def test_enrol_at_one_verify_at_the_others_delete_at_the_third(hub_for, tmp_path, task2):
    hub = hub_for({"k1": ALL, "k2": ALL, "k3": ALL})
    k1, k2, k3 = (Kiosk(tmp_path, name, hub) for name in ("k1", "k2", "k3"))
    enrolled = k1.enrol("alice", signatures(task2, 1, range(1, 7)))
    assert enrolled["_rc"] == 0 and enrolled["synced"], enrolled["_stderr"]
    templates = stored(k1, "alice")

    for kiosk, n in ((k2, 9), (k3, 10)):            # genuine signatures (edge_cases.CASES: user 1, S9)
        decision = kiosk.verify("alice", task2 / f"U1S{n}.TXT")
        assert decision["accepted"], (kiosk.name, decision)

    assert_ciphertext_only(hub, templates)
    assert_no_signature_text(hub, signatures(task2, 1, range(1, 7)))
    deleted = k3.run("delete", "alice")
    assert deleted["deleted"] and deleted["synced"]
    refused = k1.verify("alice", task2 / "U1S11.TXT")
    assert not refused["accepted"] and refused["reason"] == "unknown-user"


def assert_ciphertext_only(hub, templates: list[bytes]) -> None:
    """No 16-byte piece of any template (int8 embedding, then DTW sequence) is in the broker's files,
    while the sealed record is (the control: the search sees what the hub stored)."""
    blobs = b"".join(p.read_bytes() for p in hub.files())
    assert b'"kid": "k1"' in blobs
    for packed in templates:
        assert len(packed) >= 64
        pieces = {packed[i:i + 16] for i in range(0, len(packed) - 15)}
        assert not [p for p in pieces if p in blobs]


def assert_no_signature_text(hub, files) -> None:
    """The enrolment signatures travel in the record (for re-derivation), sealed: no line of
    them, as the record holds them (SVC2004 text), is in the broker's files."""
    blobs = b"".join(p.read_bytes() for p in hub.files())
    for path in files:
        rows = format_signature(svc2004.read(path)).splitlines()[1:]
        assert len(rows) > 10
        assert not [row for row in rows if len(row) >= 12 and row.encode() in blobs]


def test_a_late_kiosk_gets_the_whole_fleet_and_its_tombstones(hub_for, tmp_path, task2):
    hub = hub_for({"k1": ALL, "late": ALL})
    k1 = Kiosk(tmp_path, "k1", hub)
    assert k1.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    assert k1.enrol("bob", signatures(task2, 5, range(1, 7)))["synced"]
    assert k1.run("delete", "bob")["synced"]

    late = Kiosk(tmp_path, "late", hub)
    synced = late.run("sync")
    assert synced["synced"] and synced["applied"] == 1      # alice; bob's tombstone finds nothing to delete
    assert late.verify("alice", task2 / "U1S9.TXT")["accepted"]
    assert late.verify("bob", task2 / "U5S7.TXT")["reason"] == "unknown-user"
    status = late.run("status")
    assert status["connected"] and status["lag_revisions"] == 0 and status["outbox"] == 0
