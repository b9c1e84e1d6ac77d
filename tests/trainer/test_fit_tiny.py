"""A few seconds of training: the loss falls, and the int8 export runs on the edge
interpreter in a process where TensorFlow cannot even be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from helpers.writers import writers_set

from edge.preprocess import PreprocessConfig
from trainer.recipe import TrainConfig
from trainer.training_loop import fit_encoder

pytestmark = pytest.mark.slow      # each test trains
ROOT = Path(__file__).resolve().parents[2]
CONFIG = PreprocessConfig()


RUN_EDGE = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(name + " is forbidden here")
sys.meta_path.insert(0, Block())
import numpy as np
from edge.model import Encoder
enc = Encoder(sys.argv[1])
x = np.load(sys.argv[2])
single = enc.embed_inputs(x[0])
batch = enc.embed_inputs(x)
print(json.dumps({"backend": enc.backend, "single": single.tolist(), "batch": batch.tolist()}))
"""


def test_tiny_fit_loss_falls_and_int8_runs_without_tensorflow(tmp_path):
    from trainer.export import to_int8_tflite, write_model_dir

    data = writers_set()
    cfg = TrainConfig(epochs=4, pairs_per_epoch=256, batch_size=32, learning_rate=3e-3,
                      dim=16, width=8, verbose=0)
    encoder, history = fit_encoder(data, cfg)
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    model = to_int8_tflite(encoder, data.x)
    manifest = write_model_dir(tmp_path, model, CONFIG, 0.5, {"training": {"test": True}})
    assert manifest.embedding_dim == 16
    np.save(tmp_path / "x.npy", data.x[:5])
    out = subprocess.run([sys.executable, "-c", RUN_EDGE, str(tmp_path), str(tmp_path / "x.npy")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    batch, single = np.array(res["batch"]), np.array(res["single"])
    assert batch.shape == (5, 16)
    np.testing.assert_allclose(batch[0], single[0], atol=1e-6)  # batch None: resize works
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    ref = encoder.predict(data.x[:5], verbose=0)
    assert np.min(np.sum(ref * batch, axis=1)) > 0.95  # int8 tracks float


def test_stacked_towers_export_to_one_pure_int8_model():
    """Three towers in one file: int8 throughout, and the int8 embedding's cosines
    are the mean of the float towers' cosines (up to quantization)."""
    from edge.model import interpreter_class
    from trainer.encoder import build_encoder, stack_towers
    from trainer.export import to_int8_tflite

    data = writers_set(writers=4)
    towers = [build_encoder(CONFIG.shape, dim=8, width=8, name=f"t{i}") for i in range(3)]
    model = to_int8_tflite(stack_towers(towers), data.x)
    cls, _ = interpreter_class()
    interp = cls(model_content=model)
    interp.allocate_tensors()
    assert {str(np.dtype(t["dtype"])) for t in interp.get_tensor_details()} <= {"int8", "int32"}
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert out["shape"][-1] == 24

    def int8_embed(x):
        s, z = inp["quantization"]
        interp.set_tensor(inp["index"], np.clip(np.round(x / s + z), -128, 127).astype(np.int8)[None])
        interp.invoke()
        s, z = out["quantization"]
        return (interp.get_tensor(out["index"])[0].astype(np.float32) - z) * s

    a, b = int8_embed(data.x[0]), int8_embed(data.x[-1])
    float_cos = [float(np.dot(t(data.x[:1], training=False)[0], t(data.x[-1:], training=False)[0]))
                 for t in towers]
    assert abs(np.linalg.norm(a) - 1.0) < 0.03
    assert abs(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) - np.mean(float_cos)) < 0.03


def test_fine_tuning_a_pretrained_tower_gives_the_same_weights_twice(tmp_path, monkeypatch):
    """A pretrained tower read from the cache, fine-tuned twice in one process: the same
    weights (its dropout once drew unseeded seeds, and two `make model`s differed)."""
    import keras

    from trainer import pretraining
    from trainer.cache import Cache
    from trainer.recipe import Recipe

    cfg = TrainConfig(epochs=1, pairs_per_epoch=64, batch_size=32, dim=8, width=4, verbose=0, seed=3)
    tower = Recipe(data=(), train=cfg, preprocessing=CONFIG, synthetic=6, synthetic_epochs=1)
    monkeypatch.setattr(pretraining, "synthetic_set", lambda cache, n, seed, config: writers_set(seed=seed))
    cache = Cache(tmp_path)
    pretraining.pretrained_encoder(cache, tower)                       # trained and cached
    assert list((tmp_path / "pretrain").glob("*.weights.h5"))
    runs = []
    for before in range(2):
        keras.utils.set_random_seed(100 + before)                       # whatever ran before differs
        encoder = pretraining.pretrained_encoder(cache, tower)          # read from the cache
        encoder, _ = fit_encoder(writers_set(seed=1), cfg, encoder=encoder)
        runs.append(np.concatenate([w.ravel() for w in encoder.get_weights()]))
    assert np.array_equal(runs[0], runs[1])
