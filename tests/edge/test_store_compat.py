"""A store written before the store's code read its rows by name still opens, reads
and takes new judgements: the same tables, tags and sealed bytes.

``data/store_schema2.sql`` is such a store (schema 2), dumped by sqlite3's
``iterdump`` from a file the earlier code wrote: two users, alice with raw
signatures, enrolment traces, attempts and a template adaptation (so her row's
tag covers her profile), bob locked out; counters, a decision and a model
binding. The key is ``bytes(range(32))``.
"""

import sqlite3
from pathlib import Path

import pytest

from edge.errors import ReenrolmentNeeded
from edge.keys import derive
from edge.lockout import LockoutPolicy, LockState
from edge.store import Attempt, Judged, Scored, Store

DUMP = Path(__file__).parent / "data" / "store_schema2.sql"
SHA = "b" * 64


@pytest.fixture
def old_store(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(DUMP.read_text())
    db.close()
    store = Store(path, derive(bytes(range(32)), "fixture"))
    yield store
    store.close()


def test_an_older_store_reads_as_it_was_written(old_store):
    users = old_store.users()
    assert [(u.user, u.templates, u.model_sha256, u.locked_until) for u in users] == \
        [("alice", 5, SHA, 0.0), ("bob", 5, SHA, 1300.0)]
    alice = old_store.load("alice", SHA)
    assert alice.templates == [bytes([i] * 64) for i in range(1, 5)] + [bytes([42] * 64)]   # #5 adapted
    assert alice.stream_macs == [bytes([i]) * 32 for i in range(1, 5)] + [b"r" * 32]
    assert alice.profile["adaptations"] == [1002.0] and alice.profile["loo_mean"] == 0.91
    history = old_store.history("alice")
    assert history.state == LockState(0, 0.0)
    assert [(a.kind, a.accepted, a.stream_mac[:1], a.trace) for a in history.attempts] == \
        [("verify", True, b"h", b"U" * 10), ("verify", True, b"g", b"T" * 10), ("verify", False, b"f", None)] + \
        [("enrol", True, bytes([i]), b"T" * 10) for i in range(5, 0, -1)]
    assert history.attempts[0].embedding == bytes([9] * 64) and history.attempts[3].embedding == b""
    assert old_store.lock_state("bob") == LockState(0, 1300.0)
    assert old_store.decision_log("alice") == [{"at": 1002.0, "accepted": True, "reason": "match", "score": 0.95,
                                                 "latency_ms": 1.2, "pad": None}]
    assert old_store.counters() == {"enrolments": 2, "failures_to_enrol": 1}
    assert old_store.model_binding(SHA) == {"manifest_sha256": "c" * 64, "score": "mean-cosine", "threshold": 0.8}
    assert old_store.raw_signatures("alice")[0] == "1\n1 2 3 0 0 0 5\n"
    assert old_store.enrolled_model("alice") == SHA


def test_an_older_store_takes_new_judgements_and_unlocks(old_store):
    policy = LockoutPolicy(after=5, duration_s=300)
    verdict = old_store.judge("alice", lambda h: Judged(Attempt(b"n" * 32, bytes([3] * 64), False),
                                                        policy.update(h.state, False, 2000.0), Scored(False)), 200)
    assert verdict == Scored(False)
    assert old_store.lock_state("alice") == LockState(1, 0.0)
    assert old_store.history("alice").attempts[0].stream_mac == b"n" * 32
    assert old_store.unlock("bob") == LockState(0, 1300.0)
    assert old_store.lock_state("bob") == LockState(0, 0.0)


def test_an_older_store_gains_the_kept_references_table_and_says_what_it_lost(old_store):
    """Schema 2 -> 3: alice was adapted under schema 2, which deleted the enrolment
    reference it replaced: her adaptation is listed by its time alone, her baseline is
    the 4 enrolment references left, and an undo is refused with the way out."""
    with sqlite3.connect(old_store.path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("3",)
        assert db.execute("SELECT COUNT(*) FROM retired_templates").fetchone() == (0,)
    assert old_store.adaptations("alice") == [{"at": 1002.0, "reference": None, "score": None, "undone": None}]
    assert old_store.load("alice", SHA).baseline == [bytes([i] * 64) for i in range(1, 5)]
    with pytest.raises(ReenrolmentNeeded, match="re-enrol"):
        old_store.undo_adaptations("alice", 2000.0)
    assert old_store.adaptations("bob") == [] and old_store.undo_adaptations("bob", 2000.0) == 0
    assert old_store.load("bob", SHA).baseline == old_store.load("bob", SHA).templates
