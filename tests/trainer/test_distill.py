"""Distillation: the losses worked out by hand, the writer batches, and a student
that learns a teacher's cosines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from trainer.data import SigSet
from trainer.distill import label_loss, relational_loss, writer_batches


def test_relational_loss_by_hand():
    student = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)   # cosines [[1, 0], [0, 1]]
    teacher = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)   # cosines [[1, 1], [1, 1]]
    # squared differences [[0, 1], [1, 0]] -> mean 0.5
    assert float(relational_loss(student, teacher)) == pytest.approx(0.5)
    assert float(relational_loss(student, student)) == 0.0


def test_label_loss_by_hand():
    emb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.8, 0.6]], np.float32)
    writer = np.array([1, 1, 1, 2], np.float32)
    genuine = np.array([1, 1, 0, 1], np.float32)  # the third is a forgery of writer 1
    # genuine pair 0-1: cos 0.6, (0.8 - 0.6)^2 = 0.04
    # skilled 0-2: cos 0 (below the 0.2 margin) -> 0; skilled 1-2: cos 0.8, (0.8 - 0.2)^2 = 0.36
    # random 0-3: cos 0.8 -> 0.36; random 1-3: cos 0.96 -> 0.76^2 = 0.5776
    # 2-3 (a forgery of writer 1 vs writer 2) carries no label. Mean over the 5 labelled pairs:
    expected = (0.04 + 0.0 + 0.36 + 0.36 + 0.5776) / 5
    assert float(label_loss(emb, writer, genuine)) == pytest.approx(expected, rel=1e-5)


def _set(writers, per_writer, offset=0, seed=0):
    """Each writer a smooth random curve per channel; their signatures = curve + noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 256)[:, None]
    x = [np.sin(2 * np.pi * rng.uniform(1, 5, 8) * t + rng.uniform(0, 6, 8)) for _ in range(writers)]
    x = np.repeat(np.stack(x), per_writer, axis=0) + rng.normal(0, 0.2, (writers * per_writer, 256, 8))
    return SigSet(x.astype(np.float32), np.repeat(np.arange(writers) + offset, per_writer),
                  np.tile(np.arange(per_writer) < 6, writers))


def test_writer_batches_take_whole_writers_from_one_set_at_a_time():
    real, synth = _set(5, 10), _set(40, 12, offset=1000)
    idx = writer_batches([real, synth], 6, np.random.default_rng(0), batch_size=12, per_writer=3)
    assert idx.shape == (6, 12)
    writer = np.concatenate([real.writer, synth.writer])
    for b, row in enumerate(idx):
        from_real = row < len(real)
        assert from_real.all() if b % 2 == 0 else not from_real.any()
        counts = np.unique(writer[row], return_counts=True)[1]
        assert len(counts) == 4 and set(counts) == {3}


@pytest.mark.slow
def test_a_student_learns_the_teachers_cosines():
    import keras

    from trainer.distill import distill
    from trainer.encoder import build_encoder
    from trainer.recipe import TrainConfig

    keras.utils.set_random_seed(0)
    data = _set(8, 8)
    teacher = build_encoder((256, 8), dim=8, width=8, name="teacher")
    student = build_encoder((256, 8), dim=6, width=8, name="student")
    x = data.x[:32]

    def gap():
        return float(relational_loss(student(x, training=False), teacher(x, training=False)))

    before = gap()
    cfg = TrainConfig(epochs=12, pairs_per_epoch=512, batch_size=64, learning_rate=1e-2, verbose=0)
    _, history = distill(student, teacher, [data], cfg)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert gap() < 0.5 * before  # also with batch normalisation in inference mode, as exported


@pytest.mark.slow
def test_the_distilled_student_does_not_depend_on_what_the_process_did_before():
    """make model trains the towers in-process or loads them from the cache:
    the student must come out the same either way."""
    import keras

    from edge.preprocess import PreprocessConfig
    from trainer.cache import Cache
    from trainer.distill import distil_towers
    from trainer.encoder import build_encoder
    from trainer.recipe import Distillation, Recipe, TrainConfig

    data = _set(6, 8)
    keras.utils.set_random_seed(1)
    towers = [build_encoder((256, 8), dim=6, width=8, name=f"t{i}") for i in range(2)]
    cfg = TrainConfig(epochs=1, pairs_per_epoch=128, batch_size=32, verbose=0)
    recipe = Recipe(data=(), train=cfg, preprocessing=PreprocessConfig(), synthetic=0,
                    distill=Distillation(epochs=1, learning_rate=1e-3, label_weight=1.0))
    first, _ = distil_towers(recipe, towers, data, Cache(Path("/nonexistent")))  # no synthetic writers: not read
    keras.random.uniform((3,), seed=keras.random.SeedGenerator(7))  # other work in between
    build_encoder((256, 8), dim=6, width=8, name="unrelated")
    second, _ = distil_towers(recipe, towers, data, Cache(Path("/nonexistent")))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    moved = [not np.array_equal(a, b) for a, b in zip(first.get_weights(), towers[0].get_weights())]
    assert any(moved)  # the student trained (it starts as a copy of tower 0)
