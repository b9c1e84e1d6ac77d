"""The enrolment's references kept through adaptation (schema 3), listed and put back.

Templates are 64 bytes of one value each, so which one is where can be read off."""

import sqlite3

import pytest

from edge.errors import TemplateIntegrityError, UnknownUser
from edge.lockout import LockState
from edge.store import Judged, Replacement, Scored

SHA = "a" * 64
TEMPLATES = [bytes([i] * 64) for i in range(1, 6)]
MACS = [bytes([i]) * 32 for i in range(1, 6)]
STATS = {"loo": [0.9] * 5, "loo_mean": 0.9}


def enrolled(store):
    store.save_enrolment("alice", SHA, TEMPLATES, MACS, STATS, raw=[f"sig {i}\n" for i in range(5)])
    return store


def adapt(store, index, value, at, score):
    """Replace reference ``index`` by a template of ``value`` bytes, as a judging accept does."""
    replacement = Replacement(index, bytes([value] * 64), bytes([value]) * 32, {"loo": [0.5] * 5, "loo_mean": 0.5},
                              at, score)
    store.judge("alice", lambda h: Judged(None, LockState(), Scored(True, "adapted"), replacement), 200)


def test_replaced_enrolment_references_are_kept_listed_and_restored(store):
    enrolled(store)
    assert store.load("alice", SHA).baseline == TEMPLATES            # before any adaptation: the templates
    adapt(store, 0, 42, 1000.0, -0.5)
    adapt(store, 0, 43, 2000.0, -0.25)                               # replaces the adapted one: deleted
    adapt(store, 2, 44, 3000.0, -0.75)
    got = store.load("alice", SHA)
    assert got.templates == [bytes([43] * 64), TEMPLATES[1], bytes([44] * 64), TEMPLATES[3], TEMPLATES[4]]
    assert got.baseline == TEMPLATES                                  # the enrolment's, in order
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM retired_templates").fetchone() == (2,)   # #1 and #3; not 42
        assert db.execute("SELECT COUNT(*) FROM raw_signatures").fetchone() == (5,)      # kept with them
    assert store.adaptations("alice") == [
        {"at": 1000.0, "reference": 1, "score": -0.5, "undone": None},
        {"at": 2000.0, "reference": 1, "score": -0.25, "undone": None},
        {"at": 3000.0, "reference": 3, "score": -0.75, "undone": None}]
    assert store.undo_adaptations("alice", 4000.0) == 2              # references 1 and 3 came back
    got = store.load("alice", SHA)
    assert got.templates == TEMPLATES and got.stream_macs == MACS and got.baseline == TEMPLATES
    assert got.profile["loo_mean"] == 0.9                             # the enrolment's statistics
    assert [a["undone"] for a in store.adaptations("alice")] == [4000.0] * 3
    assert len(got.profile["adaptations"]) == 3                       # the daily bound still counts them
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM retired_templates").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM templates").fetchone() == (5,)
    assert store.undo_adaptations("alice", 5000.0) == 0              # nothing left to undo
    adapt(store, 4, 45, 6000.0, -0.1)                                 # and adapting starts again from there
    assert store.load("alice", SHA).baseline == TEMPLATES


def test_a_retired_reference_removed_or_moved_is_detected(store):
    enrolled(store)
    store.save_enrolment("bob", SHA, TEMPLATES, MACS, STATS)
    adapt(store, 1, 42, 1000.0, -0.5)
    with sqlite3.connect(store.path) as db:
        row = db.execute("SELECT * FROM retired_templates WHERE user_id='alice'").fetchone()
        db.execute("DELETE FROM retired_templates WHERE user_id='alice'")
    with pytest.raises(TemplateIntegrityError, match="kept after adaptation were added or removed"):
        store.load("alice", SHA)
    with sqlite3.connect(store.path) as db:
        db.execute("INSERT INTO retired_templates VALUES (?,?,?,?)", ("bob", *row[1:]))   # under bob's name
    with pytest.raises(TemplateIntegrityError):
        store.load("bob", SHA)


def test_a_re_enrolment_or_a_deletion_takes_the_kept_references_too(store):
    enrolled(store)
    adapt(store, 1, 42, 1000.0, -0.5)
    enrolled_again = dict(store.load("alice", SHA).profile)           # a fleet record carries these keys
    store.save_enrolment("alice", SHA, TEMPLATES, MACS, enrolled_again, replace=True)
    profile = store.load("alice", SHA).profile
    assert "adaptations" not in profile and "baseline" not in profile and store.adaptations("alice") == []
    adapt(store, 1, 42, 1000.0, -0.5)
    store.delete("alice")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM retired_templates").fetchone() == (0,)
    with pytest.raises(UnknownUser):
        store.adaptations("alice")
    with pytest.raises(UnknownUser):
        store.undo_adaptations("alice", 1.0)
