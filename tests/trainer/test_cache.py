"""Where the trainer's caches live (the user's cache directory or ``--cache``, never beside
the package, which is site-packages once installed), and how their keys are made."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trainer
from trainer import cli
from trainer.cache import Cache, cache_key, key_record


def test_caches_live_under_the_users_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Cache.at(None).root == tmp_path / "xdg" / "sigpad"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Cache.at(None).root == tmp_path / "home" / ".cache" / "sigpad"
    package = Path(trainer.__file__).resolve().parents[1]
    assert package not in Cache.at(None).root.parents   # never beside the package
    assert Cache.at(tmp_path / "mine").root == tmp_path / "mine"
    assert Cache.at(None).root == tmp_path / "home" / ".cache" / "sigpad"   # nothing kept from the call before


def test_each_kind_of_thing_has_its_room(tmp_path):
    cache = Cache(tmp_path)
    assert cache.folds("abc") == tmp_path / "cv" / "abc"
    assert cache.tower("abc") == tmp_path / "towers" / "abc.weights.h5"
    assert cache.pretrained("abc") == tmp_path / "pretrain" / "abc.weights.h5"
    assert cache.synthetic("abc") == tmp_path / "cache" / "synthetic-abc.npz"
    assert cache.variants("Task2", 3, "abc") == tmp_path / "variants" / "Task2-u3-abc.npz"
    assert cache.key(1, "two", {"b": 2, "a": 1}) == cache_key(1, "two", {"a": 1, "b": 2})   # dict order is not the key


def test_fit_takes_the_cache_option(tmp_path):
    args = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--cache", str(tmp_path / "c")])
    assert args.cache == tmp_path / "c"


def test_fields_added_later_stay_out_of_keys_at_their_defaults():
    @dataclasses.dataclass(frozen=True)
    class Config:
        old: int = 1
        new: float = 0.0

    assert key_record(Config(), added=("new",)) == {"old": 1}
    assert key_record(Config(new=0.5), added=("new",)) == {"old": 1, "new": 0.5}
    assert key_record(Config()) == {"old": 1, "new": 0.0}
