"""A scored decision names what pulled its score down; an explanation never changes a decision."""

import logging

import pytest
from edge_cases import CASES

from edge import scores

pytestmark = pytest.mark.data


def enrolled(make_verifier, sig, user):
    v = make_verifier()
    assert v.score_name == "fused"          # the shipped decision: cosine, DTW, learned DTW: "shape"
    v.enrol(f"u{user}", [sig(user, s) for s in range(1, 7)])
    return v


def test_a_rejected_forgery_says_the_shape_pulled_it_down(make_verifier, sig):
    user, _genuine, forgery = CASES[0]
    v = enrolled(make_verifier, sig, user)
    d = v.verify(f"u{user}", sig(user, forgery))
    # The weighed parts of the shipped fused score are "shape" parts (weights summing to 1), so
    # the shape's standing is the whole score: below the threshold, itself below -1.
    assert (d.accepted, d.reason) == (False, "no-match") and d.score < v.threshold < 0
    assert "shape" in d.reasons and set(d.reasons) <= set(scores.ASPECTS)
    standing = v.scorer.explain(v._references(v.store.load(f"u{user}", v.model_sha)), _probe(v, sig(user, forgery)))
    assert standing["shape"] == pytest.approx(d.score)
    assert d.reasons == tuple(sorted((a for a, z in standing.items() if z < -1.0), key=standing.get))
    kept = v.store.decision_log(f"u{user}", 1)[0]
    assert kept["reasons"] == list(d.reasons) and kept["reason"] == "no-match"


def test_an_unscored_decision_has_no_reasons(make_verifier, sig):
    v = enrolled(make_verifier, sig, 1)
    d = v.verify("nobody", sig(1, 8))
    assert d.reason == "unknown-user" and d.reasons == ()


def test_an_explain_that_raises_leaves_the_decision_as_it_was(make_verifier, sig, monkeypatch, caplog):
    user, genuine, forgery = CASES[1]
    v = enrolled(make_verifier, sig, user)
    refs = v._references(v.store.load(f"u{user}", v.model_sha))
    expected = [v.scorer(refs, _probe(v, sig(user, s))) for s in (genuine, forgery)]

    def broken(refs, probe):
        raise RuntimeError("explain broke")
    monkeypatch.setattr(v.scorer, "explain", broken)
    with caplog.at_level(logging.WARNING, logger="sigpad"):
        after = [v.verify(f"u{user}", sig(user, s)) for s in (genuine, forgery)]
    # the decisions the scores and the threshold make, as without the explanation
    assert [d.score for d in after] == pytest.approx(expected, abs=1e-9)
    assert [(d.accepted, d.reason) for d in after] == [(True, "match"), (False, "no-match")]
    assert all(d.reasons == () for d in after)
    assert "could not explain" in caplog.text and "explain broke" in caplog.text


def _probe(v, sig):
    encoded = v.encoder.encode(sig)
    return v.probe_layout.probe(encoded.embedding, v.probe_layout.extras(sig, encoded.learned))
