"""Refusals said before anyone signs, the pad kind named as the cause, one log line
and one history entry per decision. The real int8 models and real stores."""

import logging

import pytest

from edge.errors import AlreadyEnrolled
from edge.settings import Settings
from edge.verifier import open_verifier
from firmware_bridge.signature import Signature

pytestmark = pytest.mark.data


def without_pressure(s: Signature) -> Signature:
    """The same signature as a pad without pressure (Topaz-like) reports it."""
    return Signature.create(s.t_ms, s.x, s.y, s.pen_down, None)


def test_refusal_before_signing(make_verifier, sig):
    v = make_verifier(lockout_after=1)
    assert v.refuse_before_signing("alice").reason == "unknown-user"
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    assert v.refuse_before_signing("alice") is None
    assert v.verify("alice", sig(2, 1)).reason == "no-match"  # one failure: locked
    refused = v.refuse_before_signing("alice")
    assert (refused.accepted, refused.reason) == (False, "locked-out") and "locked for" in refused.detail


def test_check_enrollable(make_verifier, sig):
    v = make_verifier()
    v.check_enrollable("alice")
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    with pytest.raises(AlreadyEnrolled, match="--replace"):
        v.check_enrollable("alice")
    v.check_enrollable("alice", replace=True)


@pytest.mark.parametrize("enrolled_with, signs_with, words", [
    (True, False, "enrolled on a pad with pressure and this pad has none"),
    (False, True, "enrolled on a pad without pressure and this pad has it")])
def test_the_other_pad_kind_is_named_as_the_cause(tmp_path, sig, enrolled_with, signs_with, words):
    cfg = Settings(store=tmp_path / "t.db", lockout_after=0)     # the shipped model of each kind
    pad = lambda s, pressure: s if pressure else without_pressure(s)  # noqa: E731
    with open_verifier(cfg, has_pressure=enrolled_with) as v:
        v.enrol("alice", [pad(sig(1, s), enrolled_with) for s in range(1, 7)])
    with open_verifier(cfg, has_pressure=signs_with) as v:
        d = v.verify("alice", pad(sig(1, 8), signs_with))
        assert (d.accepted, d.reason) == (False, "wrong-pad-kind") and words in d.detail
        assert v.refuse_before_signing("alice").reason == "wrong-pad-kind"   # and before anyone signs


def test_a_model_that_is_neither_kind_is_still_reenrolment(sig, store, encoder):
    store.save_enrolment("alice", "f" * 64, [bytes(64)] * 5, [bytes(32)] * 5, {})
    from edge.verifier import Verifier
    d = Verifier(encoder, store, Settings(lockout_after=0)).verify("alice", sig(1, 8))
    assert d.reason == "reenrolment-needed"


def test_one_structured_log_line_and_history_entry_per_decision(make_verifier, sig, caplog):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    with caplog.at_level(logging.INFO, logger="sigpad"):
        d = v.verify("alice", sig(1, 8))
        v.reject_without_signature("alice", "capture-failed", "nobody signed", pad="sigpad:/dev/x")
        v.verify("bob", sig(1, 8))
    lines = [r for r in caplog.records if r.getMessage().startswith("decision ")]
    assert len(lines) == 3
    first = lines[0]
    assert first.levelno == logging.INFO and first.sigpad["user"] == "alice"
    assert first.getMessage().startswith(
        f"decision user=alice accepted=true reason=match score={round(d.score, 4)} ")
    assert "latency_ms=" in first.getMessage() and f"pad={sig(1, 8).source}" in first.getMessage()
    assert lines[1].sigpad["pad"] == "sigpad:/dev/x" and lines[2].sigpad["reason"] == "unknown-user"
    rows = v.store.decision_log("alice")
    assert [r["reason"] for r in rows] == ["capture-failed", "match"]
    assert rows[1]["score"] == round(d.score, 4) and rows[1]["accepted"] is True
