"""Which threshold decides: a level of the manifest, or one set by hand.

The manifest lists the levels its trainer measured (``decision.levels``:
``convenience``, ``balanced``, ``secure``, ..., each a threshold with the FRR
and FAR measured there on the folds' pooled held-out scores, in-sample for the
level; ``edge.manifest.Level``). People
choose one by name (``[decision] level``, ``--level``; default ``balanced``,
the manifest's own threshold). A threshold set by hand (``[decision]
threshold``, ``--threshold``) wins over the level, but it was never measured:

* it is refused outside the range of scores the folds saw
  (``decision.seen``) unless forced (``[decision] force_threshold``,
  ``--force-threshold``): there nothing says what it accepts;
* it decides, but never adapts a reference (``Verifier.threshold_overridden``,
  issue #20) - forced or not. A level's threshold is a measured one, so it
  adapts like the manifest's own.

A hand-set threshold equal to a level's (with the manifest's score) is that
level: the same decision, measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .manifest import BALANCED, FIGURES, Level, Manifest
from .settings import Settings


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold in force and where it comes from."""

    threshold: float
    level: str | None            # None: set by hand
    figures: Level | None = None  # the level's measured rates (None: set by hand)
    forced: bool = False          # set by hand outside what the folds saw

    @property
    def hand_set(self) -> bool:
        return self.level is None

    def to_dict(self) -> dict[str, Any]:
        """For ``sigpad status`` and the service's status: figures are None where not measured."""
        measured = self.figures is not None and self.figures.measured
        return {"level": self.level, "threshold": self.threshold, "hand_set": self.hand_set,
                "forced": self.forced, "measured": measured,
                **{f: getattr(self.figures, f) if measured else None for f in FIGURES}}

    def describe(self) -> str:
        """One line: the level and its figures, or that a hand-set threshold is in force."""
        if self.hand_set:
            return (f"threshold {self.threshold:.3f} set by hand (not measured; never adapts"
                    + (", forced outside the scores the folds saw)" if self.forced else ")"))
        line = f"level {self.level}, threshold {self.threshold:.3f}"
        f = self.figures
        if f is None or not f.measured:
            return line + ", FRR/FAR not measured"
        # in-sample: the level's threshold was read off the same fold scores (docs/training.md
        # has what a device meets on writers the threshold never saw: a point or two more)
        return line + (f", FRR {_pct(f.frr)}, FAR skilled {_pct(f.far_skilled)}, random {_pct(f.far_random)}"
                       " on the training folds")


def _pct(value: float | None) -> str:
    return f"{100 * (value or 0.0):.1f} %"


def choose(manifest: Manifest, settings: Settings, score_name: str) -> OperatingPoint:
    """The operating point ``settings`` ask of ``manifest`` when deciding by ``score_name``
    (raises ``ConfigError`` naming the levels there are, or the range the folds saw)."""
    levels = _levels(manifest) if score_name == manifest.score else {}
    if settings.threshold is not None:
        threshold = float(settings.threshold)
        same = [name for name, level in levels.items() if level.threshold == threshold]
        if same:
            name = BALANCED if BALANCED in same else same[0]
            return OperatingPoint(threshold, name, levels[name])
        return OperatingPoint(threshold, None, forced=_outside_seen(manifest, threshold, settings, levels))
    if score_name != manifest.score:
        raise ConfigError(f"score {score_name!r} needs a threshold (--threshold): "
                          f"the manifest's threshold is for {manifest.score!r}")
    if settings.level not in levels:
        raise ConfigError(f"level {settings.level!r} ([decision] level / --level): this model's manifest "
                          f"has {', '.join(sorted(levels))}")
    level = levels[settings.level]
    return OperatingPoint(level.threshold, settings.level, level)


def _levels(manifest: Manifest) -> dict[str, Level]:
    """The manifest's levels; a stand-in without them (a test's, an embedder's: what
    ``manifest.binding`` asks of one) has its threshold as ``balanced``."""
    if hasattr(manifest, "operating_levels"):
        return manifest.operating_levels()
    return {BALANCED: Level(float(manifest.threshold))}


def _outside_seen(manifest: Manifest, threshold: float, settings: Settings, levels: dict[str, Level]) -> bool:
    """Whether a hand-set threshold lies outside the scores the folds saw; refused there
    unless forced. (Another score than the manifest's: the range is not its own.)"""
    seen = getattr(manifest, "seen", None)
    if seen is None or not levels:
        return False
    lo, hi = seen
    if lo <= threshold <= hi:
        return False
    if not settings.force_threshold:
        raise ConfigError(f"threshold {threshold:g} ([decision] threshold / --threshold) is outside the scores "
                          f"the folds saw ({lo:g} to {hi:g}): nothing measured says what it accepts; choose a "
                          f"level ({', '.join(sorted(levels))}), or force it ([decision] force_threshold = true "
                          "/ --force-threshold)")
    return True
