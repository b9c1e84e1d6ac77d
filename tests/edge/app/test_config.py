"""Settings from TOML: the shipped defaults, overrides, and loud errors."""

from pathlib import Path

import pytest

from edge.app import config
from edge.errors import ConfigError


def test_shipped_file_is_the_defaults():
    assert config.load() == config.Config()


def test_file_values_and_cli_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[lockout]\nafter = 0\nduration_s = 10\n[decision]\nthreshold = 0.9\n'
                 '[store]\npath = "/x/t.db"\n[service]\ngpio_accept = 17\n')
    cfg = config.load(f)
    assert (cfg.lockout_after, cfg.lockout_s, cfg.threshold) == (0, 10.0, 0.9)
    assert cfg.store == Path("/x/t.db") and cfg.key_path() == Path("/x/store.key")
    assert cfg.gpio_accept == "17"
    assert cfg.replace(lockout_after=4, threshold=None).lockout_after == 4
    assert cfg.replace(threshold=None).threshold == 0.9   # None = option not given


@pytest.mark.parametrize("text, message", [
    ("[lockout]\nafer = 3\n", "unknown setting [lockout] afer"),
    ("[lockout]\nafter = 'three'\n", "expected int"),
    ("[lockout]\nafter = -1\n", ">= 0"),
    ("[decision]\nscore = 'max'\n", "choose from"),
    ("lockout = 3\n", "must be a [section]"),
    ("[lockout\n", "not valid TOML"),
])
def test_bad_files_are_errors(tmp_path, text, message):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        config.load(f)
