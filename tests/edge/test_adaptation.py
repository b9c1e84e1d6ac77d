"""Template adaptation, the pure part: numbers worked out by hand.

Three unit references in the plane, scored by ``mean-cosine``:
e1 = (1, 0), e2 = (0.6, 0.8), e3 = (0.8, 0.6); their cosines are
e1.e2 = 0.6, e1.e3 = 0.8, e2.e3 = 0.48 + 0.48 = 0.96, so the leave-one-out
means are e1 (0.6 + 0.8) / 2 = 0.70, e2 (0.6 + 0.96) / 2 = 0.78,
e3 (0.8 + 0.96) / 2 = 0.88: e1 is the least typical, e3 the most.

The probe p = (0.96, 0.28) (unit: 0.9216 + 0.0784 = 1) has cosines
p.e1 = 0.96, p.e2 = 0.576 + 0.224 = 0.80, p.e3 = 0.768 + 0.168 = 0.936:
mean-cosine (0.96 + 0.80 + 0.936) / 3 = 2.696 / 3 = 0.898667.
"""

import numpy as np
import pytest

from edge import scores
from edge.adaptation import DAY_S, AdaptationPolicy, propose, propose_for, replaceable, still_applies, typicality
from edge.errors import ConfigError

E = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
P = scores.Probe(np.array([0.96, 0.28]))
MEAN = scores.get("mean-cosine")
REFS = scores.References(E, scores.reference_stats(E))
VALUE = 2.696 / 3
ON = AdaptationPolicy(enabled=True, margin=0.15, max_per_day=2, keep_enrolled=1)


def _propose(policy=ON, originals=(True, True, True), value=VALUE, threshold=0.7, **kw):
    return propose(policy, REFS, originals, P, MEAN, threshold, value, **kw)


def test_typicality_is_the_leave_one_out_score():
    assert typicality(REFS, MEAN) == pytest.approx([0.70, 0.78, 0.88])
    assert MEAN(REFS, P) == pytest.approx(VALUE)


def test_the_least_typical_reference_gives_way_and_stats_are_recomputed():
    a = _propose()                        # 0.898667 >= 0.7 + 0.15
    assert a.index == 0 and a.typicality == pytest.approx((0.70, 0.78, 0.88))
    assert a.references.embeddings[0] == pytest.approx([0.96, 0.28])
    # new set p, e2, e3: p.e2 = 0.8, p.e3 = 0.936, e2.e3 = 0.96 ->
    # loo p 0.868, e2 0.88, e3 0.948; mean 2.696 / 3
    stats = a.references.stats
    assert stats["loo"] == pytest.approx([0.868, 0.88, 0.948])
    assert stats["loo_mean"] == pytest.approx(2.696 / 3) and stats["n"] == 3
    assert REFS.embeddings[0] == pytest.approx([1.0, 0.0])     # the old set is untouched
    assert a.log_entry(VALUE) == {"replaced": 0, "replaced_typicality": 0.7, "score": 0.8987}


def test_only_above_the_margin_and_only_when_enabled():
    assert _propose(policy=AdaptationPolicy(enabled=True, margin=0.2)) is None   # 0.8987 < 0.9
    assert _propose(policy=AdaptationPolicy(enabled=False, margin=0.0)) is None
    assert _propose(value=0.85) is not None                                      # exactly on the bar
    assert _propose(value=float("nan")) is None                                  # a broken score never adapts


def test_keep_enrolled_protects_the_most_typical_originals():
    typical = np.array([0.70, 0.78, 0.88])
    assert replaceable(typical, (True, True, True), 1) == [0, 1]      # e3 kept
    assert replaceable(typical, (True, True, True), 2) == [0]         # e3, e2 kept
    assert replaceable(typical, (True, False, False), 1) == [1, 2]    # e1 is the last original: kept
    assert _propose(originals=(True, False, False)).index == 1        # so e2 (0.78) goes
    assert _propose(policy=AdaptationPolicy(enabled=True, margin=0.1, keep_enrolled=3)) is None


def test_at_most_max_per_day():
    now = 10 * DAY_S
    assert _propose(recent=(now - 100, now - 200), now=now) is None               # 2 today: full
    assert _propose(recent=(now - 100, now - DAY_S), now=now).index == 0          # 1 a day ago: expired


def test_dtw_sequences_follow_their_embedding():
    seqs = np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2)
    refs = scores.References(E, scores.reference_stats(E), seqs)
    probe = scores.Probe(P.embedding, np.full((4, 2), -1.0))
    a = propose(ON, refs, (True,) * 3, probe, MEAN, 0.7, VALUE)
    assert a.index == 0
    assert (a.references.sequences[0] == -1).all() and (a.references.sequences[1:] == seqs[1:]).all()


def test_policy_limits_are_checked():
    for bad in ({"margin": -0.1}, {"margin": float("nan")}, {"max_per_day": -1}, {"keep_enrolled": -1}):
        with pytest.raises(ConfigError):
            AdaptationPolicy(**bad)


def test_a_stored_profile_says_which_references_are_originals_and_when_adaptations_were():
    ids = ["a", "b", "c"]
    fresh = {"template_ids": ids}                                  # as enrolment stores it
    assert propose_for(ON, REFS, fresh, P, MEAN, 0.7, VALUE, now=0.0).index == 0
    adapted = {"template_ids": ids, "enrolled_ids": ["a"], "adaptations": [DAY_S]}
    assert propose_for(ON, REFS, adapted, P, MEAN, 0.7, VALUE, now=DAY_S + 1).index == 1   # e1 the last original
    full = {**adapted, "adaptations": [DAY_S, DAY_S + 1]}
    assert propose_for(ON, REFS, full, P, MEAN, 0.7, VALUE, now=DAY_S + 2) is None        # 2 today: full


def test_the_decision_says_which_reference_went_and_a_proposal_needs_the_same_profile():
    assert _propose().describe(VALUE) == ("reference 1 of 3 replaced (typicality 0.700, least of those "
                                          "not kept) at score 0.899")
    loaded = {"template_ids": ["a", "b"], "loo_mean": 0.9}
    assert still_applies({"template_ids": ["a", "b"], "loo_mean": 0.8}, loaded)   # statistics are no matter
    assert not still_applies({"template_ids": ["x", "b"]}, loaded)                # adapted meanwhile
    assert not still_applies({**loaded, "adaptations": [1.0]}, loaded)
    assert not still_applies(None, loaded)


# --- the bounds of issue #20 item 5: too alike a kept attempt, too far from the enrolment ----

def test_the_centroid_may_not_drift_beyond_the_bound():
    """Replacing e1 by p: the new centroid's direction is that of e2 + e3 + p = (2.36, 1.68),
    the enrolment's that of e1 + e2 + e3 = (2.4, 1.4); their cosine is
    (2.36 * 2.4 + 1.68 * 1.4) / (sqrt(8.392) sqrt(7.72)) = 8.016 / (2.896895 * 2.778489)
    = 8.016 / 8.048987 = 0.995902, so the drift is 0.004098."""
    from edge.adaptation import drift
    new = np.array([[0.96, 0.28], [0.6, 0.8], [0.8, 0.6]])
    assert drift(new, E) == pytest.approx(0.004098, abs=1e-6)
    assert drift(E, E) == pytest.approx(0.0, abs=1e-12)
    tight = AdaptationPolicy(enabled=True, margin=0.15, max_per_day=2, keep_enrolled=1, max_drift=0.004)
    loose = AdaptationPolicy(enabled=True, margin=0.15, max_per_day=2, keep_enrolled=1, max_drift=0.0042)
    assert _propose(tight, enrolled=E) is None
    assert _propose(loose, enrolled=E).index == 0
    assert _propose(tight) is not None                         # no enrolment given: not checked
    with pytest.raises(ConfigError, match="max_drift"):
        AdaptationPolicy(max_drift=2.5)


class Kept:
    def __init__(self, *values):
        self.embedding = bytes(np.array(values, dtype=np.int8).tobytes())


def test_a_probe_too_alike_a_kept_attempt_never_adapts():
    """The bound is twice the replay limit's cosine distance: 1 - 2 (1 - 0.995) = 0.99.
    Against p = (1, 0): the kept int8 (127, 18) has cosine 127 / sqrt(127^2 + 18^2)
    = 127 / 128.269 = 0.990105 (too alike); (127, 19): 127 / 128.413 = 0.988993 (not)."""
    from edge.adaptation import alike_bound, may_adapt, too_alike
    p = np.array([1.0, 0.0])
    assert alike_bound(0.995) == pytest.approx(0.99)
    assert too_alike(p, [Kept(127, 18)], 0.995) == pytest.approx(0.990105, abs=1e-6)
    assert too_alike(p, [Kept(127, 19)], 0.995) is None
    assert too_alike(p, [Kept(0, 127), Kept(127, 19), Kept(127, 18)], 0.995) == pytest.approx(0.990105, abs=1e-6)
    assert too_alike(p, [Kept()], 0.995) is None                # an enrolment entry: no embedding
    profile = {"template_ids": ["a", "b"], "adaptations": []}
    assert may_adapt(profile, profile, p, [Kept(127, 19)], 0.995)
    assert not may_adapt(profile, profile, p, [Kept(127, 18)], 0.995)
    assert may_adapt(profile, profile, p, [Kept(127, 18)], 0.999)   # a stricter replay limit: 0.998
