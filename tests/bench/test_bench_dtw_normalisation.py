"""The writer-normalised DTW scores by hand, on one-sample sequences (distance |a - b| / 2)."""

import numpy as np
import pytest

from bench.bench_dtw_normalisation import normalised, profile
from edge.dtw import distances


def one(v):
    return np.array([[float(v)]])


def test_profile_and_scores_by_hand():
    refs = np.stack([one(0), one(2), one(6)])
    # distances: d(0,2) = 1, d(0,6) = 3, d(2,6) = 2 (sqrt of the squared difference over 1 + 1 samples)
    p = profile(refs, band=0)
    assert p["mean"] == pytest.approx(2.0)               # (1 + 3 + 2) / 3
    assert p["least"] == pytest.approx(4 / 3)            # rows' least: 1, 1, 2
    assert p["greatest"] == pytest.approx(8 / 3)         # rows' greatest: 3, 2, 3
    assert p["template"] == 1 and p["to_template"] == pytest.approx(1.5)  # sums 4, 3, 5; (1 + 2) / 2
    d = distances(one(4), refs)                           # 2, 1, 1
    s = normalised(d, p)
    assert s["mean"] == pytest.approx(-(4 / 3) / 2)
    assert s["kholmatov"] == pytest.approx(-(1 / (4 / 3) + 2 / (8 / 3) + 1 / 1.5) / 3)
    assert s["min+mean"] == pytest.approx(-(0.75 + (4 / 3) / 2) / 2)
