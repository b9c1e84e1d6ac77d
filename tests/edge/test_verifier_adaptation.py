"""Template adaptation in the verifier: the real int8 model (its fused decision), a real
SQLite store, SVC2004 signatures. Only when enabled, only above the margin, never after
a replay, within keep_enrolled and the daily bound, logged, sealed like enrolment."""

import sqlite3

import pytest

from edge.adaptation import DAY_S
from edge.settings import Settings
from edge.templates import pack, quantize

pytestmark = pytest.mark.data

SEALED = 12 + 16  # nonce + tag around every sealed template


def profile(v, user="alice"):
    return v.store.load(user, v.model_sha).profile


def enrolled(make_verifier, sig, clock=None, **adapt):
    v = make_verifier(clock=clock, **adapt)
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    return v


def test_off_by_default_off_when_disabled_and_never_below_the_margin(make_verifier, sig):
    assert not Settings().adaptation.enabled                 # the default: docs/edge.md says why
    v = enrolled(make_verifier, sig, adapt=False)
    before = profile(v)["template_ids"]
    d = v.verify("alice", sig(1, 9))
    assert d.accepted and d.adapted == "" and "adapted" not in d.to_dict()
    assert profile(v)["template_ids"] == before
    v = make_verifier(adapt=True, adapt_margin=50.0)      # far above any genuine score
    d = v.verify("alice", sig(1, 11))
    assert d.accepted and d.adapted == "" and profile(v)["template_ids"] == before


def test_an_overridden_threshold_decides_but_never_adapts(make_verifier, sig):
    """A threshold set by hand (here far below any score: another writer passes) was never
    measured: a signature accepted under it must not become a reference (without the rule,
    writer 7's signature replaced one of alice's references)."""
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    manifest_threshold = v.threshold
    before = profile(v)["template_ids"]
    v = make_verifier(adapt=True, adapt_margin=0.0, threshold=-12.0)
    assert v.threshold_overridden and v.threshold < manifest_threshold
    d = v.verify("alice", sig(7, 2))                       # writer 7's genuine signature
    assert d.accepted and d.adapted == ""
    assert profile(v)["template_ids"] == before
    v = make_verifier(adapt=True, adapt_margin=0.0, threshold=manifest_threshold)   # the manifest's own
    assert not v.threshold_overridden


def test_an_accept_above_the_margin_replaces_one_reference_and_is_logged(make_verifier, sig):
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    before = profile(v)
    d = v.verify("alice", sig(1, 9))
    assert d.accepted and d.adapted.startswith("reference ") and "replaced" in d.adapted
    after = profile(v)
    changed = [i for i, (a, b) in enumerate(zip(before["template_ids"], after["template_ids"])) if a != b]
    assert len(changed) == 1 and len(after["template_ids"]) == 6
    assert after["enrolled_ids"] == [t for t in before["template_ids"] if t != before["template_ids"][changed[0]]]
    assert len(after["adaptations"]) == 1 and after["loo"] != before["loo"]   # statistics recomputed
    assert after["dtw_spread"] != before["dtw_spread"]
    assert v.store.decision_log("alice", 1)[0]["adapted"] == d.adapted
    assert d.to_dict()["adapted"] == d.adapted and d.log_fields()["adapted"] == d.adapted


def test_an_adapted_template_is_sealed_and_bound_like_an_enrolled_one(make_verifier, sig):
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    v.enrol("bob", [sig(5, s) for s in range(1, 7)])
    old = set(profile(v)["template_ids"])
    assert v.verify("alice", sig(1, 9)).adapted
    new_id = next(t for t in profile(v)["template_ids"] if t not in old)
    encoded = v.encoder.encode(sig(1, 9))   # + DTW, global and learned features:
    plain = pack(quantize(encoded.embedding), v.layout.extras(sig(1, 9), encoded.learned))
    stored = v.store.load("alice", v.model_sha)
    assert plain in stored.templates                          # what was stored is the attempt's
    with sqlite3.connect(v.store.path) as db:
        (row,) = db.execute("SELECT sealed FROM templates WHERE user_id='alice' AND template_id=?",
                            (new_id,)).fetchone()
        assert len(row) == SEALED + len(plain) and plain[:32] not in row and plain[-64:] not in row
        bob_id = db.execute("SELECT template_id FROM templates WHERE user_id='bob'").fetchone()[0]
        db.execute("UPDATE templates SET sealed=? WHERE user_id='bob' AND template_id=?", (row, bob_id))
    d = v.verify("bob", sig(5, 7))                            # alice's sealed row under bob's name
    assert (d.accepted, d.reason) == (False, "template-integrity")


def test_never_after_a_replay(make_verifier, sig):
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    assert v.verify("alice", sig(1, 9)).adapted
    ids = profile(v)["template_ids"]
    d = v.verify("alice", sig(1, 9))                          # the same stream again
    assert (d.accepted, d.reason, d.adapted) == (False, "replay", "")
    assert profile(v)["template_ids"] == ids and len(profile(v)["adaptations"]) == 1


def test_a_rejected_forgery_never_adapts(make_verifier, sig):
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    ids = profile(v)["template_ids"]
    d = v.verify("alice", sig(1, 21))
    assert not d.accepted and d.adapted == "" and profile(v)["template_ids"] == ids


def test_keep_enrolled_and_the_daily_bound(make_verifier, sig):
    now = [1_000_000.0]
    v = enrolled(make_verifier, sig, clock=lambda: now[0], adapt=True, adapt_margin=0.0,
                 adapt_max_per_day=2, adapt_keep_enrolled=5)
    first = profile(v)["template_ids"]
    adapted = [v.verify("alice", sig(1, s)).adapted for s in (7, 8, 9, 10, 11, 12)]
    assert sum(map(bool, adapted)) == 2                       # two a day, however many accepts
    now[0] += DAY_S + 1                                       # a day later: room again
    more = [v.verify("alice", sig(1, s)).adapted for s in (13, 14, 15, 16, 17)]
    assert sum(map(bool, more)) == 2                          # and two again
    p = profile(v)
    assert len(p["enrolled_ids"]) >= 5 and set(p["enrolled_ids"]) <= set(first)   # 5 originals kept
    assert sum(t not in first for t in p["template_ids"]) == 1   # only the one slot not kept turns over


def test_putting_back_the_profile_and_templates_from_before_an_adaptation_is_detected(make_verifier, sig):
    # An adaptation reseals the profile; the user row's tag then covers it, so the
    # older profile and its templates put back (to undo an adaptation, or to bring
    # back a reference that had gone) no longer pass, though the tag itself is current.
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)

    def rows(db):
        return (db.execute("SELECT CAST(profile AS BLOB) FROM users WHERE user_id='alice'").fetchone()[0],
                db.execute("SELECT * FROM templates WHERE user_id='alice'").fetchall())

    with sqlite3.connect(v.store.path) as db:
        profile_before, templates_before = rows(db)
    assert v.verify("alice", sig(1, 9)).adapted
    assert v.verify("alice", sig(1, 10)).accepted             # adapted and tagged: still fine
    with sqlite3.connect(v.store.path) as db:
        db.execute("UPDATE users SET profile=? WHERE user_id='alice'", (profile_before,))
        db.execute("DELETE FROM templates WHERE user_id='alice'")
        db.executemany(f"INSERT INTO templates VALUES ({','.join('?' * len(templates_before[0]))})",
                       templates_before)
    d = v.verify("alice", sig(1, 11))
    assert (d.accepted, d.reason) == (False, "template-integrity")


def _kept_near(v, user, probe_template, low, high):
    """Keep a (rejected) attempt whose int8 embedding has a cosine in [low, high) to
    ``probe_template``, as a forger's practice would be kept: no stream, no path in common."""
    import numpy as np

    from edge.lockout import LockState
    from edge.store import Attempt, Judged, Scored
    from edge.templates import dequantize
    q = np.frombuffer(probe_template, np.int8).astype(int)
    target = dequantize(probe_template)
    for k in range(1, 64):
        near = np.clip(q + np.where(np.arange(64) < k, 9, 0), -127, 127).astype(np.int8).tobytes()
        cos = float(dequantize(near) @ target)
        if low <= cos < high:
            kept = Judged(Attempt(bytes([k]) * 32, near, False), LockState(), Scored(False))
            v.store.judge(user, lambda h, kept=kept: kept, 200)
            return cos
    raise AssertionError("no such nudge")


def test_never_on_a_probe_too_alike_a_kept_attempt(make_verifier, sig):
    """The bound is 1 - 2 (1 - 0.995) = 0.99: a kept attempt at a cosine in [0.99, 0.995)
    to the probe (not a replay: below 0.995) stops the adaptation; one in [0.98, 0.99) does not."""
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0)
    v.enrol("carol", [sig(1, s) for s in range(1, 7)])
    probe = quantize(v.encoder.embed(sig(1, 9)))
    assert 0.99 <= _kept_near(v, "alice", probe, 0.99, 0.995) < 0.995
    assert 0.98 <= _kept_near(v, "carol", probe, 0.98, 0.99) < 0.99
    d = v.verify("alice", sig(1, 9))
    assert (d.accepted, d.reason, d.adapted) == (True, "match", "")
    assert v.verify("carol", sig(1, 9)).adapted


def test_never_beyond_the_drift_from_the_enrolment(make_verifier, sig):
    v = enrolled(make_verifier, sig, adapt=True, adapt_margin=0.0, adapt_max_drift=0.0)
    before = profile(v)["template_ids"]
    d = v.verify("alice", sig(1, 9))                          # any replacement moves the centroid
    assert d.accepted and d.adapted == "" and profile(v)["template_ids"] == before
    assert Settings().adaptation.max_drift == 0.1


def test_adaptations_are_listed_and_undone(make_verifier, sig):
    now = [1_000_000.0]
    v = enrolled(make_verifier, sig, clock=lambda: now[0], adapt=True, adapt_margin=0.0)
    enrolled_templates = v.store.load("alice", v.model_sha).templates
    d9 = v.verify("alice", sig(1, 9))
    now[0] += 60
    d10 = v.verify("alice", sig(1, 10))
    assert d9.adapted and d10.adapted
    listed = v.store.adaptations("alice")
    assert [(a["at"], a["score"]) for a in listed] == [(1_000_000.0, d9.score), (1_000_060.0, d10.score)]
    assert all(f"reference {a['reference']} of 6" in d.adapted for a, d in zip(listed, (d9, d10)))
    assert v.store.load("alice", v.model_sha).templates != enrolled_templates
    v.store.undo_adaptations("alice", now[0])
    assert v.store.load("alice", v.model_sha).templates == enrolled_templates
    assert v.verify("alice", sig(1, 11)).accepted                 # and it verifies as enrolled
