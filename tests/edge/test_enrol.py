"""Enrolment checks with the real model: outliers, copies, counts, failures to enrol."""

import numpy as np
import pytest
from helpers.signatures import circle_signature

from edge import scores
from edge.decision import Reason, reason_for
from edge.enrol import build
from edge.errors import ConfigError, EnrolmentError

pytestmark = pytest.mark.data


def test_enrol_stores_five_small_templates(make_verifier, sig):
    v = make_verifier()
    result = v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    assert len(result.templates) == 6
    # the int8 embedding (<= 80 bytes), then the DTW sequence (64 x 5 int8), the global
    # features (9 float16) and the learned features (32 x 8 int8) the shipped pressure decision keeps
    assert v.dim <= 80 and all(len(t) == v.dim + 320 + 18 + 256 for t in result.templates)
    assert 0 < result.stats["loo_sd"] < result.stats["loo_mean"] <= 1
    assert v.store.counters() == {"enrolments": 1}


def test_an_outlier_is_asked_to_sign_again(make_verifier, sig):
    v = make_verifier()
    sigs = [sig(1, s) for s in range(1, 6)] + [sig(2, 1)]   # #6 is someone else's
    with pytest.raises(EnrolmentError, match="sign again") as info:
        v.enrol("alice", sigs)
    assert info.value.outliers == (5,)
    assert "#6" in str(info.value)
    assert v.store.counters() == {"failures_to_enrol": 1}
    assert v.store.users() == []


def test_copies_and_too_few_are_refused(make_verifier, sig):
    v = make_verifier()
    with pytest.raises(EnrolmentError, match="copies"):
        v.enrol("alice", [sig(1, s) for s in (1, 2, 3, 4, 5, 2)])
    with pytest.raises(EnrolmentError, match="needs 6"):
        v.enrol("alice", [sig(1, s) for s in (1, 2, 3)])
    assert v.store.counters()["failures_to_enrol"] == 2


def test_consistency_rule_by_hand():
    # Three unit refs; the third is at 90 degrees to the first two (which agree).
    e = np.array([[1.0, 0.0], [0.995, 0.0998749], [0.0, 1.0]])
    e /= np.linalg.norm(e, axis=1, keepdims=True)

    class S:  # stream MACs need samples; three different "streams"
        def __init__(self, k):
            self.t_ms = np.arange(3.0) + k
            self.x = self.y = self.t_ms
            self.pressure = None
            self.pen_down = np.ones(3, bool)
    # loo: #1 (0.995 + 0)/2 ~ 0.50, #2 (0.995 + 0.1)/2 ~ 0.55, #3 (0 + 0.1)/2 = 0.05
    with pytest.raises(EnrolmentError) as info:
        build(e, [S(0), S(10), S(20)], b"k" * 32, count=3, min_consistency=0.3, replay_cosine=0.997)
    assert info.value.outliers == (2,)
    ok = build(e[:2], [S(0), S(10)], b"k" * 32, count=2, min_consistency=0.3, replay_cosine=0.997)
    assert ok.stats["loo"] == pytest.approx([0.995, 0.995], abs=2e-3)
    assert ok.consistency == pytest.approx([0.995, 0.995], abs=2e-3)  # what was checked, as reported
    # In the centroid score, each against the others' renormalised mean:
    # #1 vs (0.4975, 0.55)/0.742 -> 0.67; #2 vs (0.5, 0.5)/0.707 -> 0.77; #3 vs (0.9975, 0.05) -> 0.05.
    # At 0.6 only #3 is unlike the others; in the mean cosine (0.50, 0.55, 0.05) all three would be.
    sigs = [S(0), S(10), S(20)]
    with pytest.raises(EnrolmentError) as info:
        build(e, sigs, b"k" * 32, count=3, min_consistency=0.6, replay_cosine=0.997,
              score=scores.get("centroid-cosine"))
    assert info.value.outliers == (2,)
    with pytest.raises(EnrolmentError) as info:
        build(e, sigs, b"k" * 32, count=3, min_consistency=0.6, replay_cosine=0.997)
    assert info.value.outliers == (0, 1, 2)


def test_a_too_simple_signature_is_asked_again_before_the_model_runs(make_verifier, sig):
    v = make_verifier()
    with pytest.raises(EnrolmentError, match="sign your full signature again") as info:
        v.enrol("alice", [sig(1, s) for s in range(1, 5)] + [circle_signature()])
    assert info.value.outliers == (4,)              # #5, the circle: sign it again
    assert "#5: too little turning" in str(info.value)
    assert reason_for(info.value) == Reason.INCONSISTENT   # the pad and the kiosk say "sign again"
    assert v.store.counters() == {"failures_to_enrol": 1} and v.store.users() == []


def test_three_signatures_enrol_and_the_pressure_model_takes_at_most_six(make_verifier, sig):
    three = make_verifier(enrol_count=3).enrol("alice", [sig(1, s) for s in (1, 2, 3)])
    assert len(three.templates) == 3 and three.stats["n"] == 3 and len(three.consistency) == 3
    six = make_verifier(enrol_count=6).enrol("bob", [sig(2, s) for s in range(1, 7)])
    assert len(six.templates) == 6
    # 64 + 320 + 18 + 256 bytes a reference (embedding, DTW, global and learned features):
    # 6 make 3,948 bytes, 7 would make 4,606, over 4 KB
    assert sum(map(len, six.templates)) == 3948
    with pytest.raises(ConfigError, match="at most 6"):
        make_verifier(enrol_count=7)
    # more files than [enrol] count are all kept, so the same budget holds for them
    with pytest.raises(ConfigError, match="7 references of 658 bytes take 4,606 bytes"):
        make_verifier(enrol_count=5).enrol("carol", [sig(3, s) for s in range(1, 8)])


def test_six_signatures_enrol_on_the_pressure_free_model_and_no_more(svc2004_root, tmp_path):
    from edge_cases import model_dir_for

    from edge.keys import load_keys
    from edge.model import Encoder
    from edge.settings import Settings
    from edge.store import Store
    from edge.verifier import Verifier
    from firmware_bridge import svc2004
    sigs = [svc2004.read(svc2004_root / "Task1" / f"U1S{s}.TXT") for s in range(1, 8)]
    store = Store(tmp_path / "t.db", load_keys(tmp_path / "k"))
    encoder = Encoder(model_dir_for(False))
    with Verifier(encoder, store, Settings(enrol_count=6, lockout_after=0)) as v:
        result = v.enrol("carol", sigs[:6])
        # 64 + 256 + 14 + 256 bytes a reference (embedding, DTW, global and learned features):
        # 6 make 3,540 bytes, within 4 KB; 7 would make 4,130
        assert [len(t) for t in result.templates] == [590] * 6
        assert len(v.store.load("carol", v.model_sha).templates) == 6
        assert v.verify("carol", svc2004.read(svc2004_root / "Task1" / "U1S15.TXT")).score is not None
        with pytest.raises(ConfigError, match="7 references of 590 bytes take 4,130 bytes"):
            v.enrol("dave", sigs)
    with pytest.raises(ConfigError, match="at most 6"):
        Verifier(encoder, store, Settings(enrol_count=7, lockout_after=0))
