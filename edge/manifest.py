"""The manifest that travels with every model file, and the checks on it.

``manifest.json`` sits beside ``encoder_int8.tflite`` and says what the file
is: its sha256, the preprocessing it expects (version and parameters), input
and output shapes and int8 quantization, the decision threshold chosen on
validation users, and how it was trained. The edge refuses a model whose
bytes, shapes or preprocessing disagree with its manifest: a silent mismatch
would turn every score into noise, and noise can accept. So does a threshold
outside its score's range (``scores.check_threshold``): a threshold of -1
on a cosine accepts every signature. The manifest itself is not signed, so the
store remembers the one each model was enrolled with (``binding``) and the
verifier refuses another (a model directory whose manifest was edited).

The decision may also list **levels** (``decision.levels``: operating points of
the same score, each a threshold with the FRR and FAR measured there on the
trainer's pooled held-out fold scores - in-sample for the level: its threshold
was read off the same scores; ``Level``) and the range of scores the folds saw
(``decision.seen``); ``edge.operating_point`` chooses between them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import scores
from .errors import ConfigError, ManifestMismatch, ModelError
from .preprocess import PreprocessConfig

MANIFEST_FORMAT = "sigpad-model/1"
BALANCED = "balanced"
"""The level a manifest's ``decision.threshold`` is (its only one when it lists none)."""
FIGURES = ("frr", "far_skilled", "far_random")
"""A level's measured error rates: fractions on the trainer's pooled held-out fold scores
(in-sample for the level: its threshold was read off the same scores)."""


@dataclass(frozen=True)
class Quantization:
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class Level:
    """One operating point of the decision's score: its threshold and the error
    rates measured at it on the folds' pooled scores, in-sample (None: not measured)."""

    threshold: float
    frr: float | None = None
    far_skilled: float | None = None
    far_random: float | None = None

    @property
    def measured(self) -> bool:
        return all(getattr(self, f) is not None for f in FIGURES)

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **{f: getattr(self, f) for f in FIGURES if getattr(self, f) is not None}}


@dataclass(frozen=True)
class Manifest:
    sha256: str
    preprocessing: PreprocessConfig
    input_shape: tuple[int, ...]
    input_quant: Quantization
    embedding_dim: int
    output_quant: Quantization
    threshold: float
    model_file: str = "encoder_int8.tflite"
    score: str = scores.DEFAULT
    extra: dict[str, Any] = field(default_factory=dict)
    score_params: dict[str, Any] = field(default_factory=dict)  # a parametrised score's (``fused``, ``dtw``)
    levels: Mapping[str, Level] = field(default_factory=dict)  # {} : only ``balanced``, the threshold
    seen: tuple[float, float] | None = None   # lowest and highest held-out score on the folds

    def operating_levels(self) -> dict[str, Level]:
        """The levels people may choose; a manifest that lists none has one,
        ``balanced`` at its threshold, with no measured figures."""
        return dict(self.levels) if self.levels else {BALANCED: Level(self.threshold)}

    def decision_score(self) -> scores.Score:
        """The decision's score, configured as the manifest says (raises ConfigError)."""
        return scores.get(self.score).configured(self.score_params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "model_file": self.model_file,
            "sha256": self.sha256,
            "preprocessing": self.preprocessing.to_dict(),
            "input": {"shape": list(self.input_shape), "dtype": "int8", **self.input_quant.to_dict()},
            "output": {"shape": [1, self.embedding_dim], "dtype": "int8", **self.output_quant.to_dict()},
            "embedding_dim": self.embedding_dim,
            "quantization": "full-int8",
            "decision": {"score": self.score, "threshold": self.threshold,
                         **({"params": self.score_params} if self.score_params else {}),
                         **({"levels": {k: v.to_dict() for k, v in self.levels.items()}} if self.levels else {}),
                         **({"seen": list(self.seen)} if self.seen is not None else {})},
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "manifest") -> Manifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise ManifestMismatch(f"{source}: format {data.get('format')!r}, expected {MANIFEST_FORMAT!r}")
        try:
            known = {"format", "model_file", "sha256", "preprocessing", "input", "output",
                     "embedding_dim", "quantization", "decision"}
            m = cls(
                sha256=str(data["sha256"]),
                preprocessing=PreprocessConfig.from_dict(data["preprocessing"]),
                input_shape=tuple(int(v) for v in data["input"]["shape"]),
                input_quant=Quantization(float(data["input"]["scale"]), int(data["input"]["zero_point"])),
                embedding_dim=int(data["embedding_dim"]),
                output_quant=Quantization(float(data["output"]["scale"]), int(data["output"]["zero_point"])),
                threshold=float(data["decision"]["threshold"]),
                model_file=str(data.get("model_file", "encoder_int8.tflite")),
                score=str(data["decision"].get("score", scores.DEFAULT)),
                score_params=dict(data["decision"].get("params") or {}),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestMismatch(f"{source}: missing or malformed field: {exc}") from exc
        try:  # the decision's parameters and a threshold it can separate with (scores.check_threshold)
            scores.check_threshold(m.decision_score(), m.threshold)
        except ConfigError as exc:
            raise ManifestMismatch(f"{source}: decision: {exc}") from None
        levels, seen = _operating_points(data["decision"], m.decision_score(), f"{source}: decision")
        return dataclasses.replace(m, levels=levels, seen=seen)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


def _operating_points(decision: dict[str, Any], score: scores.Score,
                      where: str) -> tuple[dict[str, Level], tuple[float, float] | None]:
    """``decision.levels`` and ``decision.seen``, checked (``ManifestMismatch`` naming the field)."""
    raw, levels = decision.get("levels", {}), {}
    if not isinstance(raw, dict):
        raise ManifestMismatch(f"{where}.levels: expected an object of levels, got {raw!r}")
    for name, entry in raw.items():
        field_ = f"{where}.levels.{name}"
        if not (isinstance(name, str) and name.isidentifier()):
            raise ManifestMismatch(f"{where}.levels: level name {name!r} is not a non-empty identifier")
        if not isinstance(entry, dict) or "threshold" not in entry:
            raise ManifestMismatch(f"{field_}: expected an object with a threshold, got {entry!r}")
        try:
            threshold = float(scores.check_threshold(score, entry["threshold"]))
        except ConfigError as exc:
            raise ManifestMismatch(f"{field_}.threshold: {exc}") from None
        figures = {f: _fraction(entry[f], f"{field_}.{f}") for f in FIGURES if entry.get(f) is not None}
        levels[name] = Level(threshold, **figures)
    if BALANCED in levels and levels[BALANCED].threshold != float(decision["threshold"]):
        # The binding and every figure of the manifest's threshold are the balanced level's.
        raise ManifestMismatch(f"{where}.levels.{BALANCED}.threshold {levels[BALANCED].threshold:g} is not "
                               f"decision.threshold {float(decision['threshold']):g}")
    seen = decision.get("seen")
    if seen is None:
        return levels, None
    if not (isinstance(seen, list) and len(seen) == 2 and all(_finite(v) for v in seen) and seen[0] <= seen[1]):
        raise ManifestMismatch(f"{where}.seen: expected [lowest, highest], two finite numbers, got {seen!r}")
    return levels, (float(seen[0]), float(seen[1]))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fraction(value: object, where: str) -> float:
    if not (_finite(value) and 0.0 <= value <= 1.0):  # type: ignore[operator]
        raise ManifestMismatch(f"{where}: {value!r} is not a fraction in [0, 1]")
    return float(value)  # type: ignore[arg-type]


class Decides(Protocol):
    """What ``binding`` needs of a manifest (a ``Manifest``'s ``to_dict``, where it has one, too)."""

    @property
    def sha256(self) -> str: ...
    @property
    def score(self) -> str: ...
    @property
    def threshold(self) -> float: ...


def binding(manifest: Decides) -> dict[str, Any]:
    """What the store keeps of the manifest a model was enrolled with: its decision
    and a digest of what decides (a manifest edited later no longer matches;
    the training notes in it may change).

    The digest leaves out ``decision.levels`` and ``decision.seen``: the levels are
    operating points on the same scores (the references do not depend on which
    one decides), so a manifest that gains levels, or a user who picks another
    one, needs no re-enrolment - the digest stays the one of score, parameters
    and threshold that stores bound before levels existed. The levels' thresholds
    are kept beside it instead (``levels``), so a level edited after enrolment is
    refused like an edited threshold (``check_binding``); a level the store has
    not seen yet (a manifest that gained levels) is taken as it is."""
    decisive = ("sha256", "decision", "preprocessing", "input", "output", "embedding_dim")
    described: dict[str, Any] = {"sha256": manifest.sha256,
                                 "decision": {"score": manifest.score, "threshold": manifest.threshold}}
    if hasattr(manifest, "to_dict"):
        described = {k: v for k, v in manifest.to_dict().items() if k in decisive}
        described["decision"] = {k: v for k, v in described["decision"].items() if k not in ("levels", "seen")}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    bound: dict[str, Any] = {"score": manifest.score, "threshold": float(manifest.threshold),
                             "manifest_sha256": digest}
    levels: Mapping[str, Level] = getattr(manifest, "levels", {})
    if levels:
        bound["levels"] = {name: level.threshold for name, level in levels.items()}
    return bound


def check_binding(manifest: Decides, bound: dict[str, Any] | None, source: str = "model") -> None:
    """Refuse ``manifest`` when the store's users were enrolled with another one for this model."""
    if bound is None:
        return
    if bound.get("manifest_sha256") != binding(manifest)["manifest_sha256"]:
        raise ManifestMismatch(
            f"{source}: its manifest (score {manifest.score}, threshold {manifest.threshold:g}) is not the one "
            f"this store's users were enrolled with for model {manifest.sha256[:12]}... (score "
            f"{bound.get('score')}, threshold {bound.get('threshold')}): restore that manifest, or re-enrol")
    now = binding(manifest).get("levels", {})
    was: dict[str, float] = bound.get("levels") or {}
    edited = ", ".join(f"{n} {t:g}" for n, t in sorted(was.items()) if n in now and now[n] != t)
    if edited:
        raise ManifestMismatch(
            f"{source}: its manifest's levels have other thresholds than when this store's users were "
            f"enrolled (then: {edited}): restore that manifest, or re-enrol")


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read manifest: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestMismatch(f"{path}: manifest is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestMismatch(f"{path}: manifest is not a JSON object")
    return Manifest.from_dict(data, str(path))


def check_model_bytes(manifest: Manifest, model_bytes: bytes, source: str = "model") -> None:
    """Refuse a model file whose sha256 is not the manifest's."""
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != manifest.sha256:
        raise ManifestMismatch(
            f"{source}: sha256 {actual[:12]}... does not match the manifest's {manifest.sha256[:12]}...")
    expected = manifest.preprocessing.shape
    if tuple(manifest.input_shape[1:]) != expected:
        raise ManifestMismatch(
            f"{source}: manifest input shape {manifest.input_shape} does not fit "
            f"preprocessing shape {expected}")
