"""Verification error rates. Scores: higher means more likely genuine.

A comparison is accepted when ``score >= threshold``. For a threshold t:

* FMR(t)  (false match rate, FAR): share of impostor scores >= t;
* FNMR(t) (false non-match rate, FRR): share of genuine scores < t.

``eer`` is where the two curves cross. Both are step functions of t, so the
crossing is taken on the piecewise-linear curve through the operating points
(FMR, FNMR) at every distinct score: the segment that crosses the diagonal
FMR = FNMR is intersected with it. That is the usual convention (the ROC
convex-hull EER of bob.measure differs by at most one step).
"""

from __future__ import annotations

import numpy as np


def operating_points(genuine, impostor):
    """(thresholds, fmr, fnmr) at every distinct score, thresholds ascending.

    One more point is appended at +inf (nothing accepted: fmr 0, fnmr 1).
    """
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    i = np.sort(np.asarray(impostor, dtype=np.float64))
    if len(g) == 0 or len(i) == 0:
        raise ValueError("need at least one genuine and one impostor score")
    thresholds = np.unique(np.concatenate([g, i]))
    fnmr = np.searchsorted(g, thresholds, side="left") / len(g)
    # Counts first, one division last: 1 - 99/100 is not exactly 0.01.
    fmr = (len(i) - np.searchsorted(i, thresholds, side="left")) / len(i)
    return (np.append(thresholds, np.inf), np.append(fmr, 0.0), np.append(fnmr, 1.0))


def eer(genuine, impostor) -> tuple[float, float]:
    """(equal error rate as a fraction, threshold at the crossing)."""
    t, fmr, fnmr = operating_points(genuine, impostor)
    diff = fmr - fnmr  # falls from >= 0 to < 0 as t rises
    k = int(np.argmax(diff <= 0))  # first point where FNMR has caught up
    if diff[k] == 0 or k == 0:
        return float(fmr[k]), float(t[k])
    # Intersect the segment from point k-1 to k with the diagonal.
    d0, d1 = diff[k - 1], diff[k]
    w = d0 / (d0 - d1)
    rate = fmr[k - 1] + w * (fmr[k] - fmr[k - 1])
    threshold = t[k - 1] + w * (t[k] - t[k - 1]) if np.isfinite(t[k]) else t[k - 1]
    return float(rate), float(threshold)


def pooled_threshold(fold_scores: list[dict], kind: str = "skilled") -> float:
    """EER threshold of several folds' held-out scores pooled: ONE threshold for all their users.

    Each fold's scores are ``{"genuine": {user: scores}, kind: {user: scores}, ...}``
    (``trainer.evaluation.evaluate.score_trials``).
    """
    gen = np.concatenate([np.concatenate(list(s["genuine"].values())) for s in fold_scores])
    imp = np.concatenate([np.concatenate(list(s[kind].values())) for s in fold_scores])
    return eer(gen, imp)[1]


def fnmr_at_fmr(genuine, impostor, target: float = 0.01) -> tuple[float, float]:
    """(FNMR, threshold) at the lowest threshold whose FMR is <= target."""
    t, fmr, fnmr = operating_points(genuine, impostor)
    k = int(np.argmax(fmr <= target))
    return float(fnmr[k]), float(t[k])


def rates_at(genuine, impostor, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) when accepting scores >= threshold."""
    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    return float(np.mean(i >= threshold)), float(np.mean(g < threshold))
