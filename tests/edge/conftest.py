"""Edge fixtures: the real int8 model through the real interpreter, real stores.

The model is the shipped one (edge/models/...) when it is there; until then a
scratch int8 model built under runs/ by a throwaway script. Without either,
model tests skip with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_cases import model_dir_for

from edge.keys import load_keys
from edge.model import Encoder
from edge.settings import Settings
from edge.store import Store
from edge.verifier import Verifier
from firmware_bridge import svc2004


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model_dir_for(True)


@pytest.fixture(scope="session")
def encoder(model_dir) -> Encoder:
    return Encoder(model_dir)


@pytest.fixture(scope="session")
def task2(svc2004_root) -> Path:
    return svc2004_root / "Task2"


@pytest.fixture(scope="session")
def sig(task2):
    """``sig(user, n)``: an SVC2004 Task2 signature (S1-S20 genuine, S21-S40 forgeries)."""
    cache = {}

    def load(user: int, n: int):
        if (user, n) not in cache:
            cache[(user, n)] = svc2004.read(task2 / f"U{user}S{n}.TXT")
        return cache[(user, n)]
    return load


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "templates.db", load_keys(tmp_path / "store.key"))
    yield s
    s.close()


@pytest.fixture
def make_verifier(encoder, store):
    """``make_verifier(**config)``: a Verifier on the session encoder and a fresh store;
    no lockout and no template adaptation unless asked (they change what later attempts meet)."""
    def make(clock=None, **changes) -> Verifier:
        cfg = Settings(lockout_after=0, adapt=False).replace(**changes)
        return Verifier(encoder, store, cfg, **({"clock": clock} if clock else {}))
    return make

