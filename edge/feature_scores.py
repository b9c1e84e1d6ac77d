"""The scores over what a reference stores beside its embedding: the device's DTW
of the raw feature sequences (``dtw``), the DTW of the model's learned features
(``learned-dtw``) and the deviations of the global features (``timing-``,
``size-``, ``stroke-``, ``pressure-deviation``). ``edge.scores`` describes
each and imports them; they register themselves (``edge.score_base``).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import dtw, global_features
from .dtw import DtwConfig, in_spreads
from .errors import ConfigError
from .global_features import GlobalConfig
from .learned_dtw import LearnedConfig
from .score_base import Floats, Probe, References, Score, register

_RECENT = threading.local()
_KEPT = 4  # a decision's DTWs: raw and learned, with a little room


def distances(probe: Floats, refs: Floats, band: float) -> npt.NDArray[np.float64]:
    """``dtw.distances``, computed once for every part of one decision that reads
    them (the mean, least, greatest and typical of ``edge.normalised_scores``): the
    last few are kept per thread, matched by the arrays' identity (held, so never reused)."""
    recent = getattr(_RECENT, "kept", None)
    if recent is None:
        recent = _RECENT.kept = []
    for p, r, b, kept in recent:
        if p is probe and r is refs and b == band:
            found: npt.NDArray[np.float64] = kept
            return found
    d = dtw.distances(probe, refs, band)
    recent.insert(0, (probe, refs, band, d))
    del recent[_KEPT:]
    return d


@register
class Dtw(Score):
    name = "dtw"
    settings = "dtw"
    on_cosine_scale = False
    range = (-np.inf, 0.0)  # a distance over the references' own, negated: 0 only for a copy

    def __init__(self, dtw_config: DtwConfig | None = None):
        self.dtw = dtw_config

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            return type(self)(DtwConfig.from_dict(dict((params or {})["dtw"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"score {self.name!r} needs params {{'dtw': {{...}}}}: {exc}") from None

    def margin_scale(self) -> float | None:
        # In units of the references' own spread, where a genuine signature
        # scores about -1: a margin of a fraction of that is taken as is.
        return 1.0

    def _config(self) -> DtwConfig:
        if self.dtw is None:
            raise ConfigError(f"score {self.name!r} needs the manifest's DTW settings")
        return self.dtw

    def __call__(self, refs: References, probe: Probe) -> float:
        cfg = self._config()
        if refs.sequences is None or probe.sequence is None:
            raise ConfigError("score 'dtw' needs DTW sequences of the references and the probe")
        return in_spreads(distances(probe.sequence, refs.sequences, cfg.band), refs.stats["dtw_spread"])


@register
class LearnedDtw(Score):
    """The DTW of the model's learned feature sequences (``edge.learned_dtw``), in
    units of the references' own spread, as ``dtw`` scores the raw ones: <= 0."""

    name = "learned-dtw"
    settings = "learned"
    on_cosine_scale = False
    range = (-np.inf, 0.0)

    def __init__(self, learned_config: LearnedConfig | None = None):
        self.learned = learned_config

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            return type(self)(LearnedConfig.from_dict(dict((params or {})["learned"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"score {self.name!r} needs params {{'learned': {{...}}}}: {exc}") from None

    def margin_scale(self) -> float | None:
        return 1.0  # in the references' own spreads, like the raw DTW's

    def __call__(self, refs: References, probe: Probe) -> float:
        if self.learned is None:
            raise ConfigError("score 'learned-dtw' needs the manifest's learned feature settings")
        if refs.learned is None or probe.learned is None:
            raise ConfigError("score 'learned-dtw' needs the learned features of the references and the probe")
        return in_spreads(distances(probe.learned, refs.learned, self.learned.band), refs.stats["learned_spread"])


class Deviation(Score):
    """``-deviation`` of one group of global features (``edge.global_features``): <= 0."""

    group: ClassVar[str]
    """Its features' group in ``edge.global_features``; ``aspect`` is the reason it gives."""

    settings = "globals"
    on_cosine_scale = False
    range = (-np.inf, 0.0)  # a deviation over at least the floor, negated: 0 when every feature is the mean

    def __init__(self, globals_config: GlobalConfig | None = None):
        self.globals = globals_config

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            return type(self)(GlobalConfig.from_dict(dict((params or {})["globals"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"score {self.name!r} needs params {{'globals': {{...}}}}: {exc}") from None

    def margin_scale(self) -> float | None:
        # In units of the references' own spread (with its floor), like the DTW score's.
        return 1.0

    def __call__(self, refs: References, probe: Probe) -> float:
        if self.globals is None:
            raise ConfigError(f"score {self.name!r} needs the manifest's global feature settings")
        if refs.globals is None or probe.globals is None:
            raise ConfigError(f"score {self.name!r} needs the global features of the references and the probe")
        return -global_features.deviation(refs.globals, probe.globals, self.globals.columns(self.group))


@register
class TimingDeviation(Deviation):
    name, group, aspect = "timing-deviation", "timing", "timing"


@register
class SizeDeviation(Deviation):
    name, group, aspect = "size-deviation", "size", "size"


@register
class StrokeDeviation(Deviation):
    name, group, aspect = "stroke-deviation", "strokes", "timing"   # more pen lifts: a forger hesitating


@register
class PressureDeviation(Deviation):
    name, group, aspect = "pressure-deviation", "pressure", "pressure"
