"""Run the int8 encoder: pick a TFLite backend, check the model, embed.

Backends, in order of preference (``backend=`` picks one by name):

* ``litert``  - ``ai_edge_litert``, the maintained runtime (numpy 2, aarch64).
* ``tflite``  - ``tflite_runtime`` 2.14, built against numpy 1: with numpy 2
  it crashes inside the interpreter, so it is refused with that reason.
* ``tensorflow`` - ``tensorflow.lite``, on a workstation only.

The embedding comes out as int8; it is dequantized and L2-normalised here,
before any cosine, so scores never depend on the output scale. A model may
have a second output, the learned feature sequence its decision compares by
DTW (``edge.learned_dtw``): ``encode`` gives both (``Encoding``).

The interpreter's C++ side prints "INFO: Created TensorFlow Lite XNNPACK
delegate for CPU." straight to file descriptor 2 on every load, and no
setting of ai-edge-litert turns it off: the load runs with fd 2 caught
(``_native_stderr_to_log``), that line is dropped and anything else is
passed on through ``logging``, so a journal shows real problems only.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import SigpadError
from firmware_bridge.signature import Signature

from .errors import BackendUnavailable, ManifestMismatch, ModelError
from .manifest import Manifest, check_model_bytes, load_manifest
from .preprocess import PREPROCESS_VERSION, PreprocessConfig, preprocess, preprocess_many
from .settings import Settings

MODELS_DIR = Path(__file__).resolve().parent / "models"
BACKENDS = ("litert", "tflite", "tensorflow")
BENIGN_NATIVE_LINES = ("Created TensorFlow Lite XNNPACK delegate",)
log = logging.getLogger("sigpad.model")


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Catch what native code writes to fd 2 meanwhile; log it, less the benign lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # no usable fd 2 (closed, or replaced by a test): nothing to catch
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if line.strip() and not any(b in line for b in BENIGN_NATIVE_LINES):
                    log.warning("interpreter: %s", line.strip())


KINDS = ("pressure", "no_pressure")   # one model per pad capability, by these names


def model_kind(has_pressure: bool) -> str:
    return KINDS[0] if has_pressure else KINDS[1]


def shipped_model_dir(has_pressure: bool = True) -> Path:
    """The shipped model for a pad with (or without) pressure."""
    return MODELS_DIR / model_kind(has_pressure)


def resolve_model_dir(path: str | Path, has_pressure: bool = True) -> Path:
    """The model directory that a configured ``path`` means for a pad with (or without) pressure.

    A ``.tflite`` file or a directory with ``manifest.json`` is that one model,
    for every pad. A directory without ``manifest.json`` is a models root (like
    edge/models, or /opt/sigpad/model on an installed Pi) holding one model
    per kind in ``pressure/`` and ``no_pressure/``: the pad's kind is picked,
    and a missing one is an error naming it, never the other kind's model
    (the edge would refuse that model's preprocessing for this pad anyway).
    """
    path = Path(path)
    if path.suffix == ".tflite":
        return path.parent
    if (path / "manifest.json").exists() or not path.is_dir():
        return path  # one model; a missing path is reported by Encoder with its name
    kind = model_kind(has_pressure)
    if (path / kind / "manifest.json").is_file():
        return path / kind
    pad = "with" if has_pressure else "without"
    found = [k for k in KINDS if (path / k / "manifest.json").is_file()]
    if not found:
        raise ModelError(f"{path}: neither a model (no manifest.json) nor a models root "
                         f"(no {KINDS[0]}/ or {KINDS[1]}/ model in it)")
    raise ModelError(f"{path}: no {kind} model ({path / kind}/manifest.json is missing) for a pad "
                     f"{pad} pressure; this models root only has {', '.join(found)}")


def model_dir_of(settings: Settings, has_pressure: bool = True) -> Path:
    """The model for a pad with (or without) pressure: the configured one
    (a models root gives the pad's kind), else the shipped one."""
    if settings.model is None:
        return shipped_model_dir(has_pressure)
    return resolve_model_dir(settings.model, has_pressure)


def model_sha_of(settings: Settings, has_pressure: bool = True) -> str:
    """The sha256 (as its manifest says) of the model ``model_dir_of`` gives;
    ``SigpadError`` (``ModelError``, ``ManifestMismatch``) when there is none."""
    return load_manifest(model_dir_of(settings, has_pressure) / "manifest.json").sha256


def other_kind_sha(settings: Settings, has_pressure: bool) -> str | None:
    """The sha256 of the model a pad of the other kind would use (None: there is none)."""
    try:
        return model_sha_of(settings, not has_pressure)
    except Exception:  # no such model: then no one can be enrolled on it
        return None


def current_model_shas(settings: Settings) -> set[str]:
    """The sha256 of each model a pad could use (with and without pressure).

    A user enrolled on a pad without pressure has templates from that kind's
    model: only a sha that neither kind uses any more means re-enrolment. A
    kind whose model is missing adds none.
    """
    shas = set()
    for has_pressure in (True, False):
        try:
            shas.add(model_sha_of(settings, has_pressure))
        except SigpadError:
            pass  # that kind is missing: listing still works, its users look stale
    return shas


def interpreter_class(backend: str | None = None) -> tuple[Any, str]:
    """(Interpreter class, backend name) of the first usable backend (the backends
    ship no type information: the class is ``Any``)."""
    names = BACKENDS if backend is None else (backend,)
    reasons = []
    for name in names:
        try:
            return _import_backend(name), name
        except BackendUnavailable as exc:
            reasons.append(str(exc))
    raise BackendUnavailable("no TFLite interpreter: " + "; ".join(reasons)
                             + ". Install one with: pip install 'sigpad[edge]'")


def _import_backend(name: str) -> Any:
    if name == "litert":
        module = "ai_edge_litert.interpreter"
    elif name == "tflite":
        if int(np.__version__.split(".")[0]) >= 2:
            raise BackendUnavailable(f"tflite-runtime needs numpy<2 (numpy {np.__version__} is installed)")
        module = "tflite_runtime.interpreter"
    elif name == "tensorflow":
        module = "tensorflow.lite"
    else:
        raise BackendUnavailable(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    try:
        return importlib.import_module(module).Interpreter
    except ImportError as exc:
        raise BackendUnavailable(f"{name}: {module} not importable ({exc})") from exc


class Encoding(NamedTuple):
    """What the model makes of one signature (or, batched, of several)."""

    embedding: npt.NDArray[np.float32]        # unit, (dim,) - or (n, dim)
    learned: npt.NDArray[np.float32] | None   # (steps, channels) - or (n, ...); None: the model has none


class Encoder:
    """The int8 encoder of one model directory (``encoder_int8.tflite`` + manifest)."""

    def __init__(self, model_dir: str | Path | None = None, backend: str | None = None,
                 num_threads: int = 1):
        model_dir = Path(model_dir) if model_dir is not None else shipped_model_dir()
        self.manifest: Manifest = load_manifest(model_dir / "manifest.json")
        self.model_path = model_dir / self.manifest.model_file
        try:
            content = self.model_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{self.model_path}: cannot read model: {exc.strerror or exc}") from exc
        check_model_bytes(self.manifest, content, str(self.model_path))
        cls, self.backend = interpreter_class(backend)
        try:
            with _native_stderr_to_log():
                self._interp = cls(model_content=content, num_threads=num_threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.model_path}: the interpreter cannot load it: {exc}") from exc
        self._inp = self._interp.get_input_details()[0]
        self._out, self._learned = self._outputs(self._interp.get_output_details())
        self._batch = 1
        self._check_against_manifest()

    @property
    def preprocessing(self) -> PreprocessConfig:
        return self.manifest.preprocessing

    def _outputs(self, details: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the embedding's output, the learned features' or None), told apart by rank."""
        by_rank = {len(d["shape"]): d for d in details}
        if len(details) > 2 or 2 not in by_rank or len(by_rank) != len(details) or set(by_rank) - {2, 3}:
            shapes = ", ".join(str(tuple(d["shape"])) for d in details)
            raise ManifestMismatch(f"{self.model_path}: outputs {shapes}; expected an embedding (1, dim) "
                                   f"and at most a learned feature sequence (1, steps, channels)")
        return by_rank[2], by_rank.get(3)

    def _check_against_manifest(self) -> None:
        m, inp, out = self.manifest, self._inp, self._out
        problems = self._learned_problems()
        if m.preprocessing.version != PREPROCESS_VERSION:
            problems.append(f"preprocessing version {m.preprocessing.version}, "
                            f"this edge implements version {PREPROCESS_VERSION}")
        if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
            problems.append(f"tensors are {inp['dtype'].__name__}/{out['dtype'].__name__}, not int8")
        if tuple(inp["shape"][1:]) != tuple(m.input_shape[1:]):
            problems.append(f"input shape {tuple(inp['shape'])} vs manifest {m.input_shape}")
        if int(out["shape"][-1]) != m.embedding_dim:
            problems.append(f"embedding size {out['shape'][-1]} vs manifest {m.embedding_dim}")
        scale, zero = inp["quantization"]
        if not np.isclose(scale, m.input_quant.scale) or zero != m.input_quant.zero_point:
            problems.append(f"input quantization ({scale}, {zero}) vs manifest "
                            f"({m.input_quant.scale}, {m.input_quant.zero_point})")
        if problems:
            raise ManifestMismatch(f"{self.model_path}: " + "; ".join(problems))

    def _learned_problems(self) -> list[str]:
        """Where the decision compares learned features, the model must make them, as configured."""
        cfg = self.manifest.decision_score().learned
        if cfg is None:
            return []
        if self._learned is None:
            return ["the decision compares learned features and the model has no such output"]
        shape, want = tuple(int(v) for v in self._learned["shape"][1:]), (cfg.steps, cfg.channels)
        problems = [] if shape == want else [f"learned features {shape} vs manifest {want}"]
        return problems + ([] if self._learned["dtype"] == np.int8 else ["learned features are not int8"])

    def embed_inputs(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Unit embeddings (float32, shape (n, dim)) of preprocessed inputs (n, length, channels)."""
        return self.encode_inputs(x).embedding

    def encode_inputs(self, x: npt.ArrayLike) -> Encoding:
        """Unit embeddings (n, dim) and, where the model has them, learned features
        (n, steps, channels), float32, of preprocessed inputs (n, length, channels)."""
        inputs = np.asarray(x, dtype=np.float32)
        if inputs.ndim == 2:
            inputs = inputs[None]
        scale, zero = self._inp["quantization"]
        q = inputs / scale  # in place from here: same values as the one-liner, fewer temporaries
        np.round(q, out=q)
        q += zero
        np.clip(q, -128, 127, out=q)
        quantized = q.astype(np.int8)
        self._resize(len(quantized))
        self._interp.set_tensor(self._inp["index"], quantized)
        self._interp.invoke()
        emb = self._dequantized(self._out)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = emb / np.maximum(norms, 1e-12)
        return Encoding(unit, None if self._learned is None else self._dequantized(self._learned))

    def _dequantized(self, detail: dict[str, Any]) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = self._interp.get_tensor(detail["index"]).astype(np.float32)
        scale, zero = detail["quantization"]
        out -= zero
        out *= scale
        return out

    def _resize(self, n: int) -> None:
        # Batching speeds evaluation up; the device always runs batch 1.
        if n == self._batch:
            return
        shape = [n, *self._inp["shape"][1:]]
        try:
            self._interp.resize_tensor_input(self._inp["index"], shape, strict=True)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.model_path}: cannot run a batch of {n}: {exc}") from exc
        self._batch = n

    def embed(self, sig: Signature) -> npt.NDArray[np.float32]:
        """Unit embedding (float32, shape (dim,)) of one signature."""
        return self.encode(sig).embedding

    def encode(self, sig: Signature) -> Encoding:
        """The embedding and learned features (if any) of one signature."""
        both = self.encode_inputs(preprocess(sig, self.preprocessing))
        return Encoding(both.embedding[0], None if both.learned is None else both.learned[0])

    def embed_many(self, sigs: Iterable[Signature], batch: int = 64) -> npt.NDArray[np.float32]:
        return self.encode_many(sigs, batch).embedding

    def encode_many(self, sigs: Iterable[Signature], batch: int = 64) -> Encoding:
        """``encode`` of several signatures, batched: (n, dim) and (n, steps, channels) or None."""
        signatures = list(sigs)
        out = [self.encode_inputs(preprocess_many(signatures[i:i + batch], self.preprocessing))
               for i in range(0, len(signatures), batch)]
        if not out:
            return Encoding(np.zeros((0, self.manifest.embedding_dim), np.float32), None)
        learned = None if out[0].learned is None else np.concatenate([o.learned for o in out])
        return Encoding(np.concatenate([o.embedding for o in out]), learned)
