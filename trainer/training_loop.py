"""The training loop: build the siamese wrapper under a tf.distribute strategy
and fit it on pair batches. Used by ``sigpad-train fit`` and the benchmark.

``--strategy``: ``default`` (one device), ``mirrored`` (all local GPUs, or
logical CPUs; gradients all-reduced - summed - across replicas, the loss
divided by the global batch), ``multi-worker`` (MultiWorkerMirroredStrategy,
machines listed in TF_CONFIG). The model, the optimizer and the dataset are
the same code under all three: Keras distributes the tf.data pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .data import SigSet
from .recipe import TrainConfig

STRATEGIES = ("default", "mirrored", "multi-worker")

DEFAULT_THREADS = 2
"""TensorFlow's intra-op threads unless told: the same on every machine, since
another count sums in another order and one recipe should give one model."""


def configure_threads(threads: int | None = None) -> int:
    """Pin TensorFlow's thread pools and make its ops deterministic (call before
    TensorFlow runs anything); returns the intra-op thread count.

    One inter-op thread and a fixed intra-op count (``DEFAULT_THREADS``, or
    ``--threads`` / ``$SIGPAD_THREADS``): with op determinism on, a recipe
    gives the same bytes run after run on one machine. Across machines the
    CPU's instruction set (oneDNN's kernels) can still change the last bits.
    """
    import tensorflow as tf
    threads = threads or int(os.environ.get("SIGPAD_THREADS", 0)) or DEFAULT_THREADS
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already initialised: keep what it has
    tf.config.experimental.enable_op_determinism()
    return threads


def get_strategy(name: str) -> Any:
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")


def fit_encoder(data: SigSet, cfg: TrainConfig, encoder: Any = None,
                callbacks: Iterable[Any] = ()) -> tuple[Any, dict[str, list[float]]]:
    """Train (or fine-tune ``encoder``) on pairs of ``data``; returns (encoder, history)."""
    import keras

    from .encoder import build_encoder
    from .losses import GENUINE, RANDOM, SKILLED, keras_loss
    from .pairs import pair_dataset
    from .siamese import build_siamese

    keras.utils.set_random_seed(cfg.seed)
    strategy = get_strategy(cfg.strategy)
    steps = cfg.pairs_per_epoch // cfg.batch_size
    with strategy.scope():
        if encoder is None:
            encoder = build_encoder(data.x.shape[1:], dim=cfg.dim, width=cfg.width)
        model = build_siamese(encoder)
        schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps * cfg.epochs,
                                                          alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras_loss(cfg.loss))
    ds = pair_dataset(data, steps * cfg.batch_size, cfg.batch_size, cfg.seed, cfg.augment,
                      epochs=cfg.epochs, ratio=dict(zip((GENUINE, SKILLED, RANDOM), cfg.pair_ratio)),
                      session=cfg.session_augment)
    hist = model.fit(ds, epochs=cfg.epochs, steps_per_epoch=steps, verbose=cfg.verbose, shuffle=False,
                     callbacks=list(callbacks))
    return encoder, hist.history
