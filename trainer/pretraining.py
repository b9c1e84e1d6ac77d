"""Pretraining on synthetic writers (``sigpad-train fit --synthetic N``).

The writers come from ``firmware_bridge.synthetic`` (sigma-lognormal; each
writer has its own stroke plan, genuine signatures vary it the way one person
varies, skilled forgeries imitate it with a forger's slower, less fluent
motor program). Generating thousands takes minutes, so the preprocessed
arrays are cached in the cache's ``cache/`` keyed by (N, seed, preprocessing),
and the pretrained weights in ``pretrain/``: pretraining involves no real
user, so every fold of the benchmark fine-tunes the same weights
(``trainer.cache``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edge.preprocess import PreprocessConfig
from firmware_bridge.errors import SigpadError

from .cache import Cache, cache_key
from .data import SigSet, from_signatures
from .progress import Progress
from .recipe import Recipe, TrainConfig, key_fields

GENUINE_PER_WRITER = 8
FORGERIES_PER_WRITER = 4
WRITER_ID_BASE = 1_000_000  # far above any real user number
PAIRS_FACTOR = 4  # thousands of synthetic writers: more pairs per epoch than the real ones get


def pretraining_config(fine_tuning: TrainConfig, epochs: int) -> TrainConfig:
    """The pretraining's loop, from the tower's: its epochs, PAIRS_FACTOR x the pairs, and no
    session-change augmentation (a trait of real writers: the pretraining is shared without it)."""
    return dataclasses.replace(fine_tuning, epochs=epochs, pairs_per_epoch=fine_tuning.pairs_per_epoch * PAIRS_FACTOR,
                               session_augment=0.0)


def _set_path(cache: Cache, n_writers: int, seed: int, config: PreprocessConfig) -> Path:
    return cache.synthetic(cache_key(n_writers, seed, config.to_dict()))


def synthetic_set(cache: Cache, n_writers: int, seed: int, config: PreprocessConfig) -> SigSet:
    """N synthetic writers, preprocessed; cached in the cache's cache/.

    Generation (~10 ms a signature) is the cost, so one pass preprocesses for
    both pad kinds (with and without pressure) and caches both.
    """
    path = _set_path(cache, n_writers, seed, config)
    if not path.exists():
        generate(cache, n_writers, seed, [config, replace(config, use_pressure=not config.use_pressure)])
    z = np.load(path)
    return SigSet(z["x"], z["writer"], z["genuine"])


def generate(cache: Cache, n_writers: int, seed: int, configs: list[PreprocessConfig]) -> None:
    """Generate the writers once and cache them under every preprocessing config."""
    from firmware_bridge.synthetic import make_writer

    sigs = []
    with Progress(n_writers, "synthetic writers") as bar:
        for w in range(n_writers):
            writer = make_writer(seed * 1_000_003 + w)
            wid = WRITER_ID_BASE + w
            for genuine, count, draw in ((True, GENUINE_PER_WRITER, writer.genuine),
                                         (False, FORGERIES_PER_WRITER, writer.forgery)):
                for i in range(count):
                    try:
                        sigs.append((wid, genuine, draw(i)))
                    except SigpadError:
                        continue  # a draw too short to be a signature: skip it, as a pad would
            bar.advance()
    for config in configs:
        data = from_signatures(sigs, config)
        path = _set_path(cache, n_writers, seed, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=data.x, writer=data.writer, genuine=data.genuine)


def pretrained_encoder(cache: Cache, tower: Recipe) -> Any:
    """A tower of this recipe (one tower, ``trainer.towers.tower_recipe``) pretrained on its synthetic writers,
    with its seed, before fine-tuning (cached weights in the cache's pretrain/)."""
    import keras

    from .encoder import build_encoder
    from .training_loop import fit_encoder

    n_writers, seed, config = tower.synthetic, tower.train.seed, tower.preprocessing
    cfg = pretraining_config(tower.train, tower.synthetic_epochs)
    path = cache.pretrained(pretrain_key(n_writers, seed, config, cfg))
    # Seed before building: the dropout layers draw their seeds from the global
    # generator when built, and neither fit_encoder's seeding (after) nor loading
    # weights resets them; unseeded, every fine-tuning of a pretrained tower
    # dropped other units in every run (found when two `make model`s differed).
    keras.utils.set_random_seed(cfg.seed)
    encoder = build_encoder(config.shape, dim=cfg.dim, width=cfg.width)
    if path.exists():
        encoder.load_weights(path)
        return encoder
    encoder, _ = fit_encoder(synthetic_set(cache, n_writers, seed, config), cfg, encoder=encoder)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save_weights(path)
    return encoder


def pretrain_key(n_writers: int, seed: int, config: PreprocessConfig, cfg: TrainConfig) -> str:
    """The key of pretrained weights: writers, preprocessing, TrainConfig and the tower's shape."""
    from .encoder import architecture
    return cache_key(n_writers, seed, config.to_dict(), key_fields(cfg), architecture())
