"""Where the trainer's caches live: the user's cache directory or ``--cache``, never
beside the package (site-packages once installed)."""

from __future__ import annotations

from pathlib import Path

from trainer import cli, pretraining


def test_caches_live_under_the_users_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pretraining.cache_dir() == tmp_path / "xdg" / "sigpad"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pretraining.cache_dir() == tmp_path / "home" / ".cache" / "sigpad"
    package = Path(pretraining.__file__).resolve().parents[1]
    assert package not in pretraining.cache_dir().parents   # never beside the package
    pretraining.use_cache_dir(tmp_path / "mine")
    try:
        assert pretraining.cache_dir() == tmp_path / "mine"
    finally:
        pretraining.use_cache_dir(None)
    assert pretraining.cache_dir() == tmp_path / "home" / ".cache" / "sigpad"


def test_fit_takes_the_cache_option(tmp_path):
    args = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--cache", str(tmp_path / "c")])
    assert args.cache == tmp_path / "c"
