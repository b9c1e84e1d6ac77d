"""The trainer's caches: one directory, its rooms, and the keys that name what is in them.

Training a fold takes minutes and the synthetic writers take minutes to
draw, so what a run makes is kept for the next one (``make model`` and the
benchmarks share it), under a key of everything that defines it:

* ``cv/<recipe key>/``: one JSON per cross-validation fold (metrics and
  held-out int8 scores) and the fold's int8 file (``trainer.folds``);
* ``towers/``: each fine-tuned tower, per recipe and training users
  (``trainer.towers``), so a change to the distillation does not retrain
  its teachers;
* ``pretrain/``: weights pretrained on synthetic writers, shared by every
  fold (``trainer.pretraining``);
* ``cache/``: the synthetic writers, preprocessed; ``variants/``: each
  user's writer variants (``trainer.variants``).

A ``Cache`` is passed to whatever reads or writes there; nothing keeps a
current one. Its root is ``--cache DIR``, else ``$XDG_CACHE_HOME/sigpad``
(by default ``~/.cache/sigpad``) - never beside the package, which is
site-packages once installed. (Caches made when they lived in the
checkout's ``runs/`` are read there with ``--cache runs``.)

Keys cover the recipe and the tower's shape, not the code: delete ``cv/``
and ``pretrain/`` after changing training code. A key that changed would
silently retrain (hours), so ``key_record`` keeps fields added later out of
the keys while they have their defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_key(*parts: Any) -> str:
    """16 hex digits of the SHA-256 of the parts as sorted JSON (``str`` for what JSON lacks)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def key_record(obj: Any, added: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's fields as a cache key holds them. ``added`` names fields added
    after keys were first made: each is left out while it has its default, so the
    keys (and cached folds, towers, pretraining) of older recipes stand."""
    defaults = {f.name: f.default for f in dataclasses.fields(obj)}
    return {k: v for k, v in dataclasses.asdict(obj).items() if not (k in added and v == defaults[k])}


def default_root() -> Path:
    """``$XDG_CACHE_HOME/sigpad``, by default ``~/.cache/sigpad``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sigpad"


@dataclass(frozen=True)
class Cache:
    """Where trained folds, towers, pretrained weights, synthetic writers and variants are kept."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str] | None) -> Cache:
        """``--cache DIR``, or the user's cache directory when None."""
        return cls(default_root() if path is None else Path(path).expanduser())

    key = staticmethod(cache_key)

    def folds(self, recipe_key: str) -> Path:
        """The folder of one recipe's cross-validation folds."""
        return self.root / "cv" / recipe_key

    def tower(self, key: str) -> Path:
        return self.root / "towers" / f"{key}.weights.h5"

    def pretrained(self, key: str) -> Path:
        return self.root / "pretrain" / f"{key}.weights.h5"

    def synthetic(self, key: str) -> Path:
        return self.root / "cache" / f"synthetic-{key}.npz"

    def variants(self, folder_name: str, user: int, key: str) -> Path:
        return self.root / "variants" / f"{folder_name}-u{user}-{key}.npz"
