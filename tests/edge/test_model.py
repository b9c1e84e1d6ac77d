"""Backend choice and the int8 encoder on the real file."""

import numpy as np
import pytest

from edge import model
from edge.errors import BackendUnavailable
from edge.model import interpreter_class


def test_litert_is_the_default():
    _cls, name = interpreter_class()
    assert name == "litert"


def test_tflite_runtime_is_refused_with_numpy_2_and_says_why():
    assert int(np.__version__.split(".")[0]) >= 2
    with pytest.raises(BackendUnavailable, match="tflite-runtime needs numpy<2"):
        interpreter_class("tflite")


def test_none_installed_is_a_clear_error(monkeypatch):
    def missing(name):
        raise ImportError(f"No module named {name!r}")
    monkeypatch.setattr(model.importlib, "import_module", missing)
    with pytest.raises(BackendUnavailable) as info:
        interpreter_class()
    msg = str(info.value)
    assert "no TFLite interpreter" in msg and "pip install 'sigpad[edge]'" in msg
    assert "litert" in msg and "numpy<2" in msg and "tensorflow" in msg
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        interpreter_class("onnx")


@pytest.mark.data
def test_embeddings_are_unit_float32_from_an_int8_model(encoder, sig):
    assert encoder.manifest.input_quant.scale > 0
    e = encoder.embed(sig(1, 1))
    assert e.dtype == np.float32 and e.shape == (encoder.manifest.embedding_dim,)
    assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    batch = encoder.embed_many([sig(1, 1), sig(1, 2)])
    assert np.allclose(batch[0], e, atol=1e-6)


def test_the_delegate_line_is_silenced(model_dir):
    """ai-edge-litert prints "INFO: Created TensorFlow Lite XNNPACK delegate" to fd 2 on
    every load, which a journal would keep forever; a real process shows it is gone."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", f"from edge.model import Encoder; Encoder({str(model_dir)!r})"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "XNNPACK" not in r.stderr and r.stderr.strip() == "", r.stderr


def test_other_native_messages_are_passed_on_to_the_log(caplog):
    import logging
    import os
    with caplog.at_level(logging.WARNING, logger="sigpad.model"), model._native_stderr_to_log():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nERROR: tensor 3 broke\n")
    assert [r.getMessage() for r in caplog.records] == ["interpreter: ERROR: tensor 3 broke"]
