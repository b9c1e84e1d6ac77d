"""int8 export of the encoder and the manifest that travels with it.

Full-integer quantization: TFLITE_BUILTINS_INT8 ops only, int8 input and
output, calibrated on a representative dataset of real (or, for tests,
whatever the training set is) preprocessed signatures. The input keeps a
None batch dimension, so ``resize_tensor_input(..., strict=True)`` can batch
at run time (the device runs batch 1).

Conversion goes through ``TFLiteConverter.from_keras_model`` (the Keras 3
path that works with tensorflow-cpu 2.21 without tf-keras).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge import scores as edge_scores
from edge.manifest import Level, Manifest, Quantization, sha256_of
from edge.preprocess import PreprocessConfig

MODEL_FILE = "encoder_int8.tflite"
CALIBRATION_SIGNATURES = 300


def to_int8_tflite(encoder, calibration: np.ndarray, seed: int = 0) -> bytes:
    """The encoder as a full-int8 .tflite flatbuffer."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(calibration))[:CALIBRATION_SIGNATURES]
    samples = calibration[np.sort(pick)].astype(np.float32)

    def representative():
        for x in samples:
            yield [x[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(encoder)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(sys.stderr):  # Keras' export lists its endpoints on stdout, the results' stream
        model: bytes = conv.convert()
    return model


def tensor_quantization(model_bytes: bytes) -> tuple[Quantization, Quantization, list[int], int]:
    """(input quant, output quant, input shape, embedding dim) read back from the file."""
    from edge.model import interpreter_class

    cls, _ = interpreter_class()
    interp = cls(model_content=model_bytes)
    inp = interp.get_input_details()[0]
    out = next(d for d in interp.get_output_details() if len(d["shape"]) == 2)  # the embedding, not learned features
    q = lambda d: Quantization(float(d["quantization"][0]), int(d["quantization"][1]))  # noqa: E731
    return q(inp), q(out), [int(v) for v in inp["shape"]], int(out["shape"][-1])


def write_int8_model(out: Path, encoder: Any, calibration: np.ndarray, config: PreprocessConfig,
                     threshold: float, extra: dict[str, Any], score: str = edge_scores.DEFAULT,
                     score_params: dict[str, Any] | None = None, operating: dict[str, Any] | None = None) -> Manifest:
    """The Keras encoder as a model directory: its int8 file, calibrated on ``calibration``
    (the training set), and the manifest (``write_model_dir``)."""
    return write_model_dir(out, to_int8_tflite(encoder, calibration), config, threshold, extra, score, score_params,
                           operating)


def write_model_dir(out: Path, model_bytes: bytes, config: PreprocessConfig,
                    threshold: float, extra: dict, score: str = edge_scores.DEFAULT,
                    score_params: dict | None = None, operating: dict | None = None) -> Manifest:
    """Write encoder_int8.tflite and manifest.json into ``out``; returns the manifest.
    ``operating``: the decision's ``levels`` and the range of scores ``seen`` on the folds
    (``trainer.fusion.levels``), where measured."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / MODEL_FILE
    path.write_bytes(model_bytes)
    in_q, out_q, shape, dim = tensor_quantization(model_bytes)
    manifest = Manifest(sha256=sha256_of(path), preprocessing=config, input_shape=tuple(shape),
                        input_quant=in_q, embedding_dim=dim, output_quant=out_q,
                        threshold=float(threshold), model_file=MODEL_FILE, extra=extra, score=score,
                        score_params=score_params or {},
                        levels={k: Level(**v) for k, v in (operating or {}).get("levels", {}).items()},
                        seen=tuple((operating or {})["seen"]) if (operating or {}).get("seen") else None)
    manifest.write(out / "manifest.json")
    return manifest
