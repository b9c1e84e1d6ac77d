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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import scores
from .errors import ConfigError, ManifestMismatch, ModelError
from .preprocess import PreprocessConfig

MANIFEST_FORMAT = "sigpad-model/1"


@dataclass(frozen=True)
class Quantization:
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}


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
                         **({"params": self.score_params} if self.score_params else {})},
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
        return m

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


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
    the training notes in it may change)."""
    decisive = ("sha256", "decision", "preprocessing", "input", "output", "embedding_dim")
    described: dict[str, Any] = {"sha256": manifest.sha256,
                                 "decision": {"score": manifest.score, "threshold": manifest.threshold}}
    if hasattr(manifest, "to_dict"):
        described = {k: v for k, v in manifest.to_dict().items() if k in decisive}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    return {"score": manifest.score, "threshold": float(manifest.threshold), "manifest_sha256": digest}


def check_binding(manifest: Decides, bound: dict[str, Any] | None, source: str = "model") -> None:
    """Refuse ``manifest`` when the store's users were enrolled with another one for this model."""
    if bound is None or bound.get("manifest_sha256") == binding(manifest)["manifest_sha256"]:
        return
    raise ManifestMismatch(
        f"{source}: its manifest (score {manifest.score}, threshold {manifest.threshold:g}) is not the one "
        f"this store's users were enrolled with for model {manifest.sha256[:12]}... (score {bound.get('score')}, "
        f"threshold {bound.get('threshold')}): restore that manifest, or re-enrol")


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
