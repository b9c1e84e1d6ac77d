"""Distillation: one tower learns the cosines of a stack of towers.

A stack of independently trained towers (trainer.encoder.stack_towers) is
a better verifier than any one of them - their errors are partly
independent - but it is n times the file and the template. Distillation
keeps most of the gain at the size of one tower: a student tower is
trained so that, within every batch, the cosine of each pair of its
embeddings matches the teacher stack's cosine of the same pair
("relational" distillation: the device only ever uses cosines, so the
cosines are what is copied, and the student's embedding may have another
size than the teacher's):

    L = mean over pairs (i, j) of the batch of (s_i . s_j - t_i . t_j)^2

Batches hold ``per_writer`` signatures of each of ``writers`` writers
(genuine and forgeries mixed), so every batch carries the pairs that
matter - same writer, that writer's forger - next to pairs of different
writers. They are drawn from the real training writers and, as often, from
synthetic writers: the teacher was fine-tuned on the real writers (whose
cosines it has all but memorised); on synthetic writers it shows how it
treats writers it has not been fine-tuned on, which is what a student
should learn. Teacher and student see the same augmented batch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .cache import Cache
from .data import SigSet
from .dtw_teacher import NO_GROUP, mixed_targets, teacher_dtw
from .recipe import Recipe

SIGNATURES_PER_WRITER = 8  # a batch of 128 holds 16 writers
SEED_OFFSET = 100  # the distillation's batches are drawn apart from the towers' pairs


def distil_towers(recipe: Recipe, towers: list[Any], data: SigSet, cache: Cache) -> tuple[Any, dict[str, Any]]:
    """The first tower, distilled from the stack of all (on real and synthetic writers):
    (student, history), as ``recipe.distill`` says.

    The teacher is made of copies, so the towers themselves are never frozen
    or changed by the distillation.
    """
    import keras

    from .encoder import stack_towers
    from .pretraining import synthetic_set

    opts, cfg = recipe.distill, recipe.train
    assert opts is not None, "a recipe without a distillation stacks its towers"
    teacher = stack_towers([_copy(t) for t in towers], name="teacher", max_dim=None)
    teacher.name = "teacher"  # one tower is its own stack: the student's copy has its name
    # Seed before copying the student: its dropout draws a seed from the global
    # generator, whose state otherwise depends on what this process did before
    # (trained the towers, or loaded them from the cache).
    keras.utils.set_random_seed(cfg.seed + SEED_OFFSET)
    student = _copy(towers[0])
    sets = [data]
    if recipe.synthetic:
        sets.append(synthetic_set(cache, recipe.synthetic, cfg.seed, recipe.preprocessing))
    cfg = dataclasses.replace(cfg, epochs=opts.epochs, learning_rate=opts.learning_rate, seed=cfg.seed + SEED_OFFSET)
    dtw = _dtw_targets(recipe, teacher, data, sum(len(s) for s in sets)) if opts.dtw_weight else None
    return distill(student, teacher, sets, cfg, label_weight=opts.label_weight, dtw=dtw, dtw_weight=opts.dtw_weight)


def _dtw_targets(recipe: Recipe, teacher: Any, data: SigSet, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DTW targets of the real writers (``data``, the first rows), none for the rest."""
    from .dtw_teacher import dtw_targets

    dtw = teacher_dtw(recipe)
    assert dtw is not None and data.sequences is not None, "the training set carries the DTW sequences"
    emb = teacher.predict(data.x, batch_size=256, verbose=0)
    group, pos, table = dtw_targets(data.sequences, data.writer, data.genuine, emb, dtw.band)
    pad = rows - len(data)
    return (np.concatenate([group, np.full(pad, NO_GROUP)]), np.concatenate([pos, np.zeros(pad, np.int64)]), table)


def _copy(model: Any) -> Any:
    import keras
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def relational_loss(student, teacher):
    """Mean squared difference of the two batches' cosine matrices (rows are unit vectors)."""
    import tensorflow as tf
    return relational_loss_to(student, tf.matmul(teacher, teacher, transpose_b=True))


def relational_loss_to(student, targets):
    """Mean squared difference of the student's cosine matrix and target cosines."""
    import tensorflow as tf
    return tf.reduce_mean(tf.square(tf.matmul(student, student, transpose_b=True) - targets))


def label_loss(student, writer, genuine):
    """The contrastive loss (trainer.losses) over every labelled pair of the batch.

    Same writer, both genuine: a genuine pair; same writer, one forgery: a
    skilled pair; other writers, both genuine: a random pair. Pairs of two
    forgeries and each signature with itself carry no label and are left out.
    """
    import tensorflow as tf

    from .losses import CONTRASTIVE_MARGIN_NEG, CONTRASTIVE_MARGIN_POS
    cos = tf.matmul(student, student, transpose_b=True)
    same = tf.equal(writer[:, None], writer[None, :])
    gi, gj = genuine[:, None] > 0.5, genuine[None, :] > 0.5
    off_diag = tf.logical_not(tf.eye(tf.shape(cos)[0], dtype=tf.bool))
    pos = tf.logical_and(tf.logical_and(same, tf.logical_and(gi, gj)), off_diag)
    neg = tf.logical_or(tf.logical_and(same, tf.not_equal(gi, gj)),
                        tf.logical_and(tf.logical_not(same), tf.logical_and(gi, gj)))
    pull = tf.square(tf.nn.relu(CONTRASTIVE_MARGIN_POS - cos))
    push = tf.square(tf.nn.relu(cos - CONTRASTIVE_MARGIN_NEG))
    per_pair = tf.where(pos, pull, 0.0) + tf.where(neg, push, 0.0)
    labelled = tf.reduce_sum(tf.cast(tf.logical_or(pos, neg), tf.float32))
    return tf.reduce_sum(per_pair) / tf.maximum(labelled, 1.0)


def writer_batches(sets: list[SigSet], batches: int, rng: np.random.Generator, batch_size: int,
                   per_writer: int = SIGNATURES_PER_WRITER) -> np.ndarray:
    """(batches, batch_size) indices into the sets concatenated: ``per_writer``
    signatures of each of ``batch_size / per_writer`` writers, all from set
    ``b % len(sets)`` for batch b (a set with fewer writers repeats rows)."""
    writers = max(1, batch_size // per_writer)
    offsets = np.cumsum([0] + [len(s) for s in sets])
    by_writer = []
    for s in sets:
        order = np.argsort(s.writer, kind="stable")
        _, starts = np.unique(s.writer[order], return_index=True)
        by_writer.append(np.split(order, starts[1:]))
    out = np.empty((batches, batch_size), np.int64)
    for b in range(batches):
        k = b % len(sets)
        groups = by_writer[k]
        chosen = rng.choice(len(groups), size=min(writers, len(groups)), replace=False)
        rows = [rng.choice(groups[g], size=per_writer, replace=len(groups[g]) < per_writer) for g in chosen]
        row = np.concatenate(rows)
        out[b] = offsets[k] + np.resize(row, batch_size)
    return out


def distill_dataset(sets: list[SigSet], steps: int, batch_size: int, seed: int, augment: bool = True,
                    groups: tuple[np.ndarray, np.ndarray] | None = None, session: float = 0.0):
    """tf.data of (batch, (writer, genuine, group, position)) over ``steps`` writer batches;
    ``groups`` are the rows' (group, position) in the DTW targets (``trainer.dtw_teacher``)."""
    import tensorflow as tf

    from .pairs import _augment

    idx = writer_batches(sets, steps, np.random.default_rng(seed), batch_size)
    x = tf.constant(np.concatenate([s.x for s in sets]))
    n = sum(len(s) for s in sets)
    group, pos = groups if groups is not None else (np.full(n, NO_GROUP), np.zeros(n))
    # writer ids < 2**24 (synthetic ones start at 1e6), so float32 holds them exactly
    labels = tf.constant(np.stack([np.concatenate([s.writer for s in sets]),
                                   np.concatenate([s.genuine for s in sets]), group, pos], axis=1).astype(np.float32))

    def gather(step, rows):
        xb = tf.gather(x, rows)
        if augment:
            xb = _augment(xb, tf.stack([tf.cast(seed, tf.int64), step]), session)
        return xb, tf.gather(labels, rows)

    ds = tf.data.Dataset.from_tensor_slices(idx).enumerate()
    return ds.map(gather, num_parallel_calls=2, deterministic=True).prefetch(2)


def distill(student, teacher, sets: list[SigSet], cfg, label_weight: float = 0.0, dtw=None, dtw_weight: float = 0.0):
    """Train ``student`` (in place) on the teacher's cosines; returns (student, history).

    The teacher is frozen and its dropout set to zero, in place.

    ``cfg`` is the TrainConfig: epochs, learning rate, seed; an epoch is
    ``pairs_per_epoch / batch_size`` batches, as in pair training.
    ``label_weight`` > 0 adds that much of ``label_loss``: the labels next to the teacher.
    ``dtw`` = (group, position, table) of the rows of ``sets`` concatenated
    (``trainer.dtw_teacher.dtw_targets``): with ``dtw_weight`` > 0 the targets of
    same-writer pairs move that far toward DTW's (``mixed_targets``).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    teacher.trainable = False  # frozen, and its batch normalisation in inference mode
    # fit() calls the teacher with training=True, which would keep its dropout
    # on (an explicit training=False inside the graph is not honoured): drop
    # nothing, so its cosines are the same on every call and every run.
    for layer in _all_layers(teacher):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    inp = keras.Input(shape=student.input_shape[1:], name="signature")
    both = keras.layers.Concatenate(name="student_teacher")([student(inp), teacher(inp)])
    model = keras.Model(inp, both, name="distiller")
    dim = int(student.output_shape[-1])

    table = tf.constant(dtw[2]) if dtw_weight else None

    def loss(labels, y):
        teacher_cos = tf.matmul(y[:, dim:], y[:, dim:], transpose_b=True)
        if dtw_weight:
            teacher_cos = mixed_targets(teacher_cos, tf.cast(labels[:, 2], tf.int32),
                                        tf.cast(labels[:, 3], tf.int32), table, dtw_weight)
        value = relational_loss_to(y[:, :dim], teacher_cos)
        if label_weight:
            value += label_weight * label_loss(y[:, :dim], labels[:, 0], labels[:, 1])
        return value

    steps = cfg.pairs_per_epoch // cfg.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps * cfg.epochs, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)
    ds = distill_dataset(sets, steps * cfg.epochs, cfg.batch_size, cfg.seed, cfg.augment,
                         None if dtw is None else dtw[:2], cfg.session_augment)
    hist = model.fit(ds, epochs=cfg.epochs, steps_per_epoch=steps, verbose=cfg.verbose, shuffle=False)
    return student, hist.history


def _all_layers(model):
    """Every layer of a model, nested models' layers included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
