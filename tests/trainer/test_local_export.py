"""The embedding and the learned features in ONE int8 file: the edge tells the outputs
apart, stores the features as its decision needs them, and refuses a mismatch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from helpers.writers import writers_set

from edge.errors import ManifestMismatch
from edge.learned_dtw import LearnedConfig
from edge.preprocess import PreprocessConfig
from trainer.local_features import LocalConfig, build_local_branch, edge_config, fit_local, with_branch
from trainer.recipe import TrainConfig

pytestmark = pytest.mark.slow
CONFIG = PreprocessConfig()
LOCAL = LocalConfig(steps=32, channels=8, band=8, epochs=2, pairs_per_epoch=128, batch_size=32)


def fused_params(learned: LearnedConfig) -> dict:
    return {"parts": [{"score": "mean-cosine", "mean": 0.8, "sd": 0.1, "weight": 0.5},
                      {"score": "learned-dtw", "mean": -1.0, "sd": 0.5, "weight": 0.5}],
            "learned": learned.to_dict()}


def test_two_outputs_one_file_and_the_edge_reads_both(tmp_path):
    from edge.model import Encoder
    from trainer.encoder import build_encoder
    from trainer.export import write_int8_model

    data = writers_set()
    encoder = build_encoder(CONFIG.shape, dim=16, width=8)
    branch, losses = fit_local(data, LOCAL)
    assert len(losses) == LOCAL.epochs and all(np.isfinite(losses))
    both = with_branch(encoder, branch)
    manifest = write_int8_model(tmp_path, both, data.x, CONFIG, 0.0, {}, "fused", fused_params(edge_config(LOCAL)))
    assert manifest.embedding_dim == 16
    enc = Encoder(tmp_path)
    one = enc.encode_inputs(data.x[:3])
    assert one.embedding.shape == (3, 16) and one.learned is not None and one.learned.shape == (3, 32, 8)
    assert np.linalg.norm(one.embedding, axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    float_learned = branch.predict(data.x[:3], verbose=0)
    cos = np.sum(float_learned * one.learned, axis=-1) / np.linalg.norm(one.learned, axis=-1)
    assert cos.min() > 0.9  # the int8 features track the float ones, step by step
    assert enc.embed_inputs(data.x[:3]) == pytest.approx(one.embedding)


def test_a_decision_on_learned_features_needs_a_model_that_makes_them(tmp_path):
    from edge.model import Encoder
    from trainer.encoder import build_encoder
    from trainer.export import write_int8_model

    data = writers_set(writers=3)
    encoder = build_encoder(CONFIG.shape, dim=8, width=4)
    write_int8_model(tmp_path / "one", encoder, data.x, CONFIG, 0.0, {}, "fused", fused_params(edge_config(LOCAL)))
    with pytest.raises(ManifestMismatch, match="no such output"):
        Encoder(tmp_path / "one")
    branch = build_local_branch(CONFIG.shape, LOCAL)
    other = LearnedConfig(steps=16, channels=8, band=4)
    write_int8_model(tmp_path / "two", with_branch(encoder, branch), data.x, CONFIG, 0.0, {}, "fused",
                     fused_params(other))
    with pytest.raises(ManifestMismatch, match=r"learned features \(32, 8\) vs manifest \(16, 8\)"):
        Encoder(tmp_path / "two")
    # the plain decision of a two-output model reads its embedding and ignores the rest
    write_int8_model(tmp_path / "three", with_branch(encoder, branch), data.x, CONFIG, 0.5, {})
    assert Encoder(tmp_path / "three").embed_inputs(data.x[:2]).shape == (2, 8)


def test_a_tiny_training_config_trains_the_same_twice():
    data = writers_set(writers=3)
    cfg = LocalConfig(epochs=1, pairs_per_epoch=64, batch_size=32, seed=5)
    a, _ = fit_local(data, cfg)
    b, _ = fit_local(data, cfg)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_training_config_stays_what_the_recipe_says():
    assert TrainConfig().epochs == 8  # the towers' schedule is not the branch's
    assert LocalConfig().epochs == 32 and LocalConfig().steps * LocalConfig().channels == 256


def test_held_out_features_come_through_the_branchs_own_int8_file():
    from trainer.export import to_int8_tflite
    from trainer.local_features import features_of_file

    data = writers_set(writers=3)
    branch = build_local_branch(CONFIG.shape, LOCAL)
    got = features_of_file(to_int8_tflite(branch, data.x), data.x[:4])
    want = branch.predict(data.x[:4], verbose=0)
    assert got.shape == want.shape == (4, 32, 8)
    cos = np.sum(got * want, axis=-1) / np.linalg.norm(got, axis=-1)
    assert cos.min() > 0.9


def test_a_pressure_blind_branch_sees_the_input_without_its_pressure_channel(tmp_path):
    """The pressure model's branch is the pressure-free one: in the one int8 file it takes
    every channel but pressure (by name), and the edge gets what the branch gives on those."""
    import dataclasses

    from edge.model import Encoder
    from trainer.encoder import build_encoder, load_encoder
    from trainer.export import write_int8_model
    from trainer.local_features import branch_channels, branch_inputs
    from trainer.recipe import PRESSURE_TOWER

    recipe = dataclasses.replace(PRESSURE_TOWER, data=(tmp_path / "Task2",))
    blind = LocalConfig(pressure=False, data=("Task1", "Task2"))
    data_dirs, prep = branch_inputs(recipe, blind)
    assert data_dirs == (tmp_path / "Task1", tmp_path / "Task2") and not prep.use_pressure
    channels = branch_channels(recipe, blind)
    assert CONFIG.channels[5] == "pressure" and channels == [0, 1, 2, 3, 4, 6, 7]
    assert branch_channels(recipe, LOCAL) == list(range(8)) and branch_inputs(recipe, LOCAL)[0] == recipe.data

    data = writers_set(writers=3)
    seen = data.x[:, :, channels]
    branch = build_local_branch(seen.shape[1:], LOCAL)
    both = with_branch(build_encoder(CONFIG.shape, dim=8, width=4), branch, channels)
    params = fused_params(edge_config(LOCAL))
    manifest = write_int8_model(tmp_path / "m", both, data.x, CONFIG, 0.0, {}, "fused", params)
    assert tuple(manifest.input_shape) == (1, 256, 8)
    got = Encoder(tmp_path / "m").encode_inputs(data.x[:3]).learned
    want = branch.predict(seen[:3], verbose=0)
    cos = np.sum(got * want, axis=-1) / np.linalg.norm(got, axis=-1)
    assert cos.min() > 0.9
    # changing the pressure channel alone changes nothing the branch gives
    other = data.x[:3].copy()
    other[:, :, 5] = -other[:, :, 5]
    assert np.array_equal(Encoder(tmp_path / "m").encode_inputs(other).learned, got)
    both.save(tmp_path / "both.keras")
    again = load_encoder(tmp_path / "both.keras")
    assert np.allclose(again.predict(data.x[:2], verbose=0)[1], both.predict(data.x[:2], verbose=0)[1])
