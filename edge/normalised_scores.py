"""Writer-normalised distances: the least, the greatest and the typical.

The ``dtw``, ``learned-dtw`` and ``refnorm-distance`` scores take the MEAN
distance of a probe to a user's references, in units of the references' own
distance from each other (their spread). The SVC2004 winner (Kholmatov &
Yanikoglu) also looked at the least and greatest distance and at the distance
to the most typical reference. These scores give those, for each comparator,
in the same unit and negated (higher is more genuine, 0 only for a copy):

* ``<comparator>-least``    - ``-min_r d(t, r) / spread``: how close the nearest reference is;
* ``<comparator>-greatest`` - ``-max_r d(t, r) / spread``: how far the farthest is;
* ``<comparator>-typical``  - ``-d(t, medoid) / spread``: the distance to the reference
  with the least summed distance to the others (the first on a tie).

Comparators: ``dtw`` (the raw sequences), ``learned-dtw`` (the model's learned
features), ``cosine`` (the embedding's cosine distance ``1 - cos``, whose spread
is ``1 - loo_mean`` with the floor ``DIST_FLOOR``, as ``refnorm-distance``).
The DTW medoids are stored at enrolment (``scores.reference_stats``); the
cosine's is found from the references' own cosines at each decision (a
6 x 6 product with the default six references). The DTW distances are computed once for every part of a
decision that reads them (``feature_scores.distances``).

They are parts of a combined decision (``fused`` with an intercept: a
logistic regression over them, ``trainer.logistic``), not decisions alone.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .dtw import in_spreads
from .errors import ConfigError
from .feature_scores import Dtw, LearnedDtw, distances
from .score_base import Probe, References, Score, register

DIST_FLOOR = 0.01
"""The cosine distances' unit at least (``refnorm-distance``'s too, in ``edge.scores``)."""
STATISTICS = ("least", "greatest", "typical")


def pick(d: npt.NDArray[np.float64], statistic: str, medoid: int) -> npt.NDArray[np.float64]:
    """The distance (as a 1-array, for ``in_spreads``) a statistic reads from ``d``."""
    at = int(np.argmin(d)) if statistic == "least" else int(np.argmax(d)) if statistic == "greatest" else medoid
    return d[at:at + 1]


def stored_medoid(refs: References, key: str, name: str, count: int) -> int:
    """The medoid enrolment stored (one of ``count`` references), or ``ConfigError``:
    references enrolled before the medoid was stored cannot be judged by a ``typical``
    score (re-enrol), and one out of range is never read as no distance at all."""
    try:
        medoid = int(refs.stats[key])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"score {name!r} needs the references' {key!r} "
                          "(stored at enrolment since the medoid was; re-enrol this user)") from None
    if not 0 <= medoid < count:
        raise ConfigError(f"score {name!r}: the stored {key!r} {medoid} is not one of the {count} references")
    return medoid


class DtwStatistic(Dtw):
    statistic: ClassVar[str]

    def __call__(self, refs: References, probe: Probe) -> float:
        cfg = self._config()
        if refs.sequences is None or probe.sequence is None:
            raise ConfigError(f"score {self.name!r} needs DTW sequences of the references and the probe")
        medoid = stored_medoid(refs, "dtw_medoid", self.name, len(refs.sequences)) if self.statistic == "typical" else 0
        d = distances(probe.sequence, refs.sequences, cfg.band)
        return in_spreads(pick(d, self.statistic, medoid), refs.stats["dtw_spread"])


class LearnedDtwStatistic(LearnedDtw):
    statistic: ClassVar[str]

    def __call__(self, refs: References, probe: Probe) -> float:
        if self.learned is None:
            raise ConfigError(f"score {self.name!r} needs the manifest's learned feature settings")
        if refs.learned is None or probe.learned is None:
            raise ConfigError(f"score {self.name!r} needs the learned features of the references and the probe")
        medoid = stored_medoid(refs, "learned_medoid", self.name, len(refs.learned)) \
            if self.statistic == "typical" else 0
        d = distances(probe.learned, refs.learned, self.learned.band)
        return in_spreads(pick(d, self.statistic, medoid), refs.stats["learned_spread"])


class CosineStatistic(Score):
    statistic: ClassVar[str]
    on_cosine_scale = False
    range = (-2.0 / DIST_FLOOR, 0.0)  # a cosine distance (0..2) over at least the floor

    def __call__(self, refs: References, probe: Probe) -> float:
        e = np.asarray(refs.embeddings, dtype=np.float64)
        d = 1.0 - e @ np.asarray(probe.embedding, dtype=np.float64)
        medoid = int(np.argmax((e @ e.T).sum(axis=1))) if self.statistic == "typical" else 0
        return in_spreads(pick(d, self.statistic, medoid), max(1.0 - refs.stats["loo_mean"], DIST_FLOOR))


def _register(base: type[Score], comparator: str) -> None:
    for statistic in STATISTICS:
        register(type(f"{base.__name__}_{statistic}", (base,),
                      {"name": f"{comparator}-{statistic}", "statistic": statistic, "__module__": __name__}))


_register(CosineStatistic, "cosine")
_register(DtwStatistic, "dtw")
_register(LearnedDtwStatistic, "learned-dtw")
