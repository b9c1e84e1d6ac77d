"""What the operator's commands read and change in the store: a user's model,
an unlock, and the decision history (sealed like everything else)."""

import sqlite3

import pytest

from edge.errors import TemplateIntegrityError
from edge.lockout import LockState
from edge.store import Attempt, Judged, Scored

SHA = "a" * 64
TEMPLATES = [bytes([i] * 64) for i in range(1, 6)]
MACS = [bytes([i]) * 32 for i in range(1, 6)]


def enrol(store, user="alice"):
    store.save_enrolment(user, SHA, TEMPLATES, MACS, {"loo_mean": 0.9, "loo_sd": 0.01, "n": 5})


def test_enrolled_model(store):
    assert store.enrolled_model("alice") is None
    enrol(store)
    assert store.enrolled_model("alice") == SHA


def test_unlock_clears_failures_and_the_lock(store):
    enrol(store)
    store.judge("alice", lambda history: Judged(Attempt(b"m" * 32, bytes(64), False), LockState(5, 2e9),
                                                Scored(False)), 50)
    assert store.lock_state("alice") == LockState(5, 2e9)
    assert store.unlock("alice") == LockState(5, 2e9)      # what it was
    assert store.lock_state("alice") == LockState(0, 0.0)
    assert store.unlock("nobody") is None


def test_history_newest_first_bounded_and_only_for_enrolled_users(store):
    enrol(store)
    for i in range(5):
        store.log_decision("alice", 1000.0 + i, {"accepted": i == 4, "reason": "x", "score": i / 10}, keep=3)
    store.log_decision("mallory", 1.0, {"accepted": False})  # unknown: not kept
    rows = store.decision_log("alice")
    assert [r["at"] for r in rows] == [1004.0, 1003.0, 1002.0]
    assert rows[0] == {"at": 1004.0, "accepted": True, "reason": "x", "score": 0.4}
    assert store.decision_log("alice", limit=1) == rows[:1]
    assert store.decision_log("mallory") == []


def test_history_is_sealed_and_goes_with_the_user(store):
    enrol(store)
    store.log_decision("alice", 1.0, {"reason": "no-match", "score": 0.5})
    with sqlite3.connect(store.path) as db:
        sealed = db.execute("SELECT sealed FROM decisions").fetchone()[0]
        assert b"no-match" not in sealed
        db.execute("UPDATE decisions SET user_id='bob'")     # moved to another user
    enrol(store, "bob")
    with pytest.raises(TemplateIntegrityError):
        store.decision_log("bob")
    store.delete("bob")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM decisions").fetchone() == (0,)
