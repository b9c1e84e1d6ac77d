"""Synthetic writers for pretraining (``sigpad-train fit --synthetic N``).

The writers come from ``firmware_bridge.synthetic`` (sigma-lognormal; each
writer has its own stroke plan, genuine signatures vary it the way one person
varies, skilled forgeries imitate it with a forger's slower, less fluent
motor program). Generating thousands takes minutes, so the preprocessed
arrays are cached under ``cache/`` keyed by (N, seed, preprocessing),
and the pretrained weights under ``pretrain/``: pretraining involves no
real user, so every fold of the benchmark fine-tunes the same weights.

The caches (these, and the folds and towers of ``trainer.recipe``) live in
``cache_dir()``: ``--cache DIR``, else ``$XDG_CACHE_HOME/sigpad`` (by default
``~/.cache/sigpad``) - never beside the package, which is site-packages once
installed. (They used to be in the checkout's ``runs/``: ``--cache runs``,
or ``make model CACHE=runs``, still reads them there.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.preprocess import PreprocessConfig
from firmware_bridge.errors import SigpadError

from .data import SigSet, from_signatures
from .progress import Progress

GENUINE_PER_WRITER = 8
FORGERIES_PER_WRITER = 4
WRITER_ID_BASE = 1_000_000  # far above any real user number


_cache_override: Path | None = None


def cache_dir() -> Path:
    """Where trained folds, towers, pretrained weights and synthetic sets are kept."""
    if _cache_override is not None:
        return _cache_override
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sigpad"


def use_cache_dir(path: str | os.PathLike | None) -> None:
    """``--cache DIR``: keep the caches there from now on (None: the default again)."""
    global _cache_override
    _cache_override = None if path is None else Path(path).expanduser()


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def key_record(obj, added: tuple[str, ...] = ()) -> dict:
    """A dataclass's fields as a cache key holds them. ``added`` names fields added
    after keys were first made: each is left out while it has its default, so the
    keys (and cached folds, towers, pretraining) of older recipes stand."""
    defaults = {f.name: f.default for f in dataclasses.fields(obj)}
    return {k: v for k, v in dataclasses.asdict(obj).items() if not (k in added and v == defaults[k])}


def _cache_path(n_writers: int, seed: int, config: PreprocessConfig) -> Path:
    return cache_dir() / "cache" / f"synthetic-{cache_key(n_writers, seed, config.to_dict())}.npz"


def synthetic_set(n_writers: int, seed: int, config: PreprocessConfig) -> SigSet:
    """N synthetic writers, preprocessed; cached in cache_dir()/cache.

    Generation (~10 ms a signature) is the cost, so one pass preprocesses for
    both pad kinds (with and without pressure) and caches both.
    """
    path = _cache_path(n_writers, seed, config)
    if not path.exists():
        generate(n_writers, seed, [config, replace(config, use_pressure=not config.use_pressure)])
    z = np.load(path)
    return SigSet(z["x"], z["writer"], z["genuine"])


def generate(n_writers: int, seed: int, configs) -> None:
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
        path = _cache_path(n_writers, seed, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=data.x, writer=data.writer, genuine=data.genuine)


def pretrained_encoder(n_writers: int, seed: int, config: PreprocessConfig, cfg):
    """An encoder pretrained on N synthetic writers (cached weights in cache_dir()/pretrain)."""
    import keras

    from .encoder import build_encoder
    from .training_loop import fit_encoder

    path = cache_dir() / "pretrain" / f"{pretrain_key(n_writers, seed, config, cfg)}.weights.h5"
    # Seed before building: the dropout layers draw their seeds from the global
    # generator when built, and neither fit_encoder's seeding (after) nor loading
    # weights resets them; unseeded, every fine-tuning of a pretrained tower
    # dropped other units in every run (found when two `make model`s differed).
    keras.utils.set_random_seed(cfg.seed)
    encoder = build_encoder(config.shape, dim=cfg.dim, width=cfg.width)
    if path.exists():
        encoder.load_weights(path)
        return encoder
    encoder, _ = fit_encoder(synthetic_set(n_writers, seed, config), cfg, encoder=encoder)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save_weights(path)
    return encoder


def pretrain_key(n_writers: int, seed: int, config: PreprocessConfig, cfg) -> str:
    """The key of pretrained weights: writers, preprocessing, TrainConfig and the tower's shape."""
    from .encoder import architecture
    from .training_loop import key_fields
    return cache_key(n_writers, seed, config.to_dict(), key_fields(cfg), architecture())
