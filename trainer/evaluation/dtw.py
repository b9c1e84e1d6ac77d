"""The reference verifier: multivariate DTW with reference-set normalisation.

Features per pen-down sample: x, y, their time derivatives, and pressure when
present, each z-normalised within the signature (translation, scale and units
drop out). Distances come from dtaidistance's C implementation, divided by the
sum of the two lengths so long signatures are not punished for being long.

Score of a test against references R (higher = more genuine):
``-mean_r d(test, r) / mean_{r != r'} d(r, r')``: the distance to the
references measured in units of the references' own spread, which makes one
global threshold meaningful across writers.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge.signature import Signature


def dtw_features(sig: Signature) -> np.ndarray:
    """(n, d) float64 C-contiguous feature matrix of a signature."""
    down = sig.pen_down
    t = sig.t_ms[down]
    cols = [sig.x[down], sig.y[down]]
    dt = np.maximum(np.gradient(t), 1.0)
    cols += [np.gradient(cols[0]) / dt, np.gradient(cols[1]) / dt]
    if sig.pressure is not None:
        cols.append(sig.pressure[down])
    f = np.stack(cols, axis=1)
    std = f.std(axis=0)
    return np.ascontiguousarray((f - f.mean(axis=0)) / np.where(std > 0, std, 1.0))


class DtwScorer:
    """Scores trials by DTW, caching every pairwise distance it computes."""

    name = "dtw"

    def __init__(self, signatures: dict):
        from dtaidistance import dtw_ndim  # C library; imported here so the edge never needs it

        self._distance = dtw_ndim.distance_fast
        self._features = {k: dtw_features(s) for k, s in signatures.items()}
        self._cache: dict = {}

    def distance(self, a, b) -> float:
        key = (a, b) if a <= b else (b, a)
        d = self._cache.get(key)
        if d is None:
            fa, fb = self._features[a], self._features[b]
            d = self._distance(fa, fb) / (len(fa) + len(fb))
            self._cache[key] = d
        return d

    def score(self, refs, test) -> float:
        to_refs = np.mean([self.distance(test, r) for r in refs])
        among = [self.distance(a, b) for i, a in enumerate(refs) for b in refs[i + 1:]]
        spread = np.mean(among) if among else 1.0
        return float(-to_refs / max(spread, 1e-9))
