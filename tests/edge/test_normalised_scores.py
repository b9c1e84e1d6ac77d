"""The writer-normalised statistics: what they refuse, and one DTW per decision.

Their values are worked by hand in tests/test_score_registry.py, with every score's."""

import numpy as np
import pytest

from edge import dtw, feature_scores, scores
from edge.dtw import DtwConfig
from edge.errors import ConfigError

CFG = DtwConfig(points=2, band=0, pressure=False)
SEQS = np.array([[[v, 0, 0, 0]] * 2 for v in (0.0, 1.0, 3.0)])
PROBE = np.array([[1.0, 0, 0, 0]] * 2)


def refs(stats):
    return scores.References(np.eye(3), stats, SEQS)


def test_the_typical_distance_needs_the_stored_medoid():
    typical = scores.get("dtw-typical").configured({"dtw": CFG.to_dict()})
    stats = scores.reference_stats(np.eye(3), SEQS, CFG)
    assert stats["dtw_medoid"] == 1   # pairs 1, 3, 2 (in sqrt(2)/4): sums 4, 3, 5
    assert typical(refs(stats), scores.Probe(np.eye(3)[0], PROBE)) == 0.0   # the probe is the medoid's copy
    old = {k: v for k, v in stats.items() if k != "dtw_medoid"}   # enrolled before the medoid was stored
    with pytest.raises(ConfigError, match="dtw_medoid.*re-enrol"):
        typical(refs(old), scores.Probe(np.eye(3)[0], PROBE))
    with pytest.raises(ConfigError, match="not one of the 3 references"):   # never an empty distance
        typical(refs({**stats, "dtw_medoid": 3}), scores.Probe(np.eye(3)[0], PROBE))


def test_the_parts_of_one_decision_share_one_dtw(monkeypatch):
    calls = []
    real = dtw.distances
    monkeypatch.setattr(dtw, "distances", lambda *a, **k: calls.append(1) or real(*a, **k))
    params = {"dtw": CFG.to_dict(), "parts": [{"score": n, "mean": 0.0, "sd": 1.0, "weight": 1.0}
                                              for n in ("dtw", "dtw-least", "dtw-greatest", "dtw-typical")]}
    fused = scores.get("fused").configured(params)
    r = refs(scores.reference_stats(np.eye(3), SEQS, CFG))
    calls.clear()
    probe = scores.Probe(np.eye(3)[0], PROBE.copy())   # arrays no other test has shown it
    # -0.5 (the mean), 0 (least), -1 (greatest), 0 (typical): worked in test_score_registry
    assert fused(r, probe) == pytest.approx(-1.5)
    assert len(calls) == 1
    fused(r, scores.Probe(np.eye(3)[0], PROBE.copy()))   # another probe: computed again
    assert len(calls) == 2


def test_a_shared_dtw_is_never_another_probes(monkeypatch):
    part = scores.get("dtw-least").configured({"dtw": CFG.to_dict()})
    r = refs(scores.reference_stats(np.eye(3), SEQS, CFG))
    # more distinct probes than are kept, each at its own distance (probe value v: least |v - 1|),
    # then the first again, by then dropped from what is kept: computed anew, still its own
    probes = [np.array([[1.0 + k, 0, 0, 0]] * 2) for k in range(feature_scores._KEPT + 2)]
    got = [part(r, scores.Probe(np.eye(3)[0], p)) for p in probes + probes[:1]]
    unit = np.sqrt(2) / 2                                         # the spread (test_score_registry)
    assert got == pytest.approx([-(np.sqrt(2) / 4) * min(abs(1.0 + k - v) for v in (0, 1, 3)) / unit
                                 for k in [*range(len(probes)), 0]])
