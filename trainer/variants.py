"""Synthetic variants of real writers: more genuine signatures and forgeries of the training writers.

SVC2004 gives each training writer 20 genuine signatures and 20 skilled
forgeries. The SynSig2Vec route (Lai et al., AAAI 2020) fits each real
signature with the sigma-lognormal model and draws new ones from the fit:
genuine variations (small jitter of every stroke, global tempo, size and
slant: ``Writer.genuine``) and forgeries by the synthetic forgers
(``Writer.forgery``: the shape copied, the dynamics not). Here the first
``fits`` genuine signatures (by session order: S1, S2, ...) of every
training writer are fitted, and each fit gives ``GENUINE_PER_FIT`` genuine
variants and ``FORGERIES_PER_FIT`` forgeries, labelled with the real
writer: they sit in that writer's batches beside the real signatures.

Only the users a model trains on are ever fitted (``trainer.towers.load_training`` passes
the fold's training users); the test users' signatures are never read here.

A fit costs seconds (``sigmalognormal.extract``); each user's variants are
cached, preprocessed, under the cache's ``variants/`` by folder, user and
preprocessing, so the five folds and both pad kinds fit each user once.
The draws do not depend on the training seed: a variant is the same in
every run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.preprocess import PreprocessConfig
from firmware_bridge import svc2004
from firmware_bridge.errors import SigpadError
from firmware_bridge.signature import Signature

from .cache import Cache, cache_key
from .data import SigSet, from_signatures

GENUINE_PER_FIT = 4
FORGERIES_PER_FIT = 4
# bump when firmware_bridge.synthetic draws other signatures: the cache key has no other way to know
VARIANTS_VERSION = 1
SEED_BASE = 7_000_000  # writer seeds apart from the synthetic writers' (seed * 1_000_003 + w)


def user_variants(folder: Path, user: int, fits: int) -> list[tuple[bool, Signature]]:
    """(genuine, Signature) drawn from fits of the user's first ``fits`` genuine signatures."""
    from firmware_bridge.synthetic import Writer

    files = svc2004.scan(folder)[user]
    out: list[tuple[bool, Signature]] = []
    for s in sorted(files.genuine)[:fits]:
        try:
            writer = Writer.from_signature(svc2004.read(files.genuine[s]), seed=SEED_BASE + 1000 * user + s)
        except SigpadError:
            continue  # an unreadable or unfittable signature: the others still count
        for genuine, count, draw in ((True, GENUINE_PER_FIT, writer.genuine),
                                     (False, FORGERIES_PER_FIT, writer.forgery)):
            for i in range(count):
                try:
                    out.append((genuine, draw(i)))
                except SigpadError:
                    continue  # a draw too short to be a signature, as in pretraining
    return out


def _cache_path(cache: Cache, folder: Path, user: int, fits: int, config: PreprocessConfig) -> Path:
    key = cache_key(Path(folder).name, user, fits, GENUINE_PER_FIT, FORGERIES_PER_FIT, VARIANTS_VERSION,
                    config.to_dict())
    return cache.variants(Path(folder).name, user, key)


def user_set(cache: Cache, folder: Path, user: int, fits: int, config: PreprocessConfig) -> SigSet:
    """One user's variants, preprocessed (writer id = the user); cached.

    The fits are the cost, so one pass preprocesses for both pad kinds and
    caches both (as ``pretraining.synthetic_set`` does).
    """
    path = _cache_path(cache, folder, user, fits, config)
    if not path.exists():
        items = [(user, g, sig) for g, sig in user_variants(folder, user, fits)]
        for cfg in (config, replace(config, use_pressure=not config.use_pressure)):
            s = from_signatures(items, cfg)
            out = _cache_path(cache, folder, user, fits, cfg)
            out.parent.mkdir(parents=True, exist_ok=True)
            part = out.with_suffix(".part.npz")   # a killed run leaves no half-written cache behind
            np.savez(part, x=s.x, writer=s.writer, genuine=s.genuine)
            part.replace(out)
    z = np.load(path)
    return SigSet(z["x"], z["writer"], z["genuine"])


def variants_set(cache: Cache, folder: Path, users: Iterable[int], fits: int, config: PreprocessConfig,
                 writer_offset: int = 0) -> SigSet:
    """The variants of these users of one SVC2004 folder, with the loader's writer ids.

    Users not in the cache yet are fitted in parallel, one process per core
    (a fit is seconds of numpy; "spawn", so a parent that has loaded
    TensorFlow is never forked)."""
    chosen = sorted(int(u) for u in users)
    missing = [u for u in chosen if not _cache_path(cache, folder, u, fits, config).exists()]
    if len(missing) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        workers = min(len(missing), os.cpu_count() or 1)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(user_set, *zip(*[(cache, folder, u, fits, config) for u in missing])))
    sets = [user_set(cache, folder, u, fits, config) for u in chosen]
    s = SigSet.concat(sets)
    return SigSet(s.x, s.writer + writer_offset, s.genuine)
