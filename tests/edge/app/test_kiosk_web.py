"""The signer's page settings: the language chosen, the catalogue complete, the config checked."""

from __future__ import annotations

import pytest

from edge.app.config import KIOSK_LANGUAGES, Config, load
from edge.app.kiosk_web import catalogue, choose_language
from edge.errors import ConfigError


def test_every_language_has_every_message_and_config_knows_them_all():
    known = catalogue()
    assert sorted(known) == sorted(KIOSK_LANGUAGES) and len(known) >= 3
    for lang, messages in known.items():
        assert set(messages) == set(known["en"]), lang
        assert all(text.strip() for text in messages.values()), lang


@pytest.mark.parametrize("configured, header, expected", [
    ("auto", None, "en"),                              # no header: English
    ("auto", "de-DE,de;q=0.9,en;q=0.8", "de"),          # region dropped
    ("auto", "en;q=0.5, fr;q=0.9", "fr"),                # by q, not by order
    ("auto", "ja, fr-CA;q=0.7", "fr"),                   # the first the catalogue has
    ("auto", "ja, zh;q=0.7", "en"),                      # none it has
    ("auto", "fr;q=0, de;q=0.1", "de"),                  # q=0 means "not this"
    ("auto", "fr;q=banana, de;q=0.1", "de"),             # a bad q counts as 0
    ("de", "fr", "de"),                                  # the config wins
])
def test_choose_language(configured, header, expected):
    assert choose_language(configured, header) == expected


def test_kiosk_settings_load_and_are_checked(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[kiosk]\nlanguage = "fr"\nverdict_seconds = 4\n')
    cfg = load(f)
    assert (cfg.kiosk_language, cfg.kiosk_verdict_s) == ("fr", 4.0)
    assert (Config().kiosk_language, Config().kiosk_verdict_s) == ("auto", 6.0)
    with pytest.raises(ConfigError, match=r"\[kiosk\] language 'xx'"):
        Config(kiosk_language="xx")
    with pytest.raises(ConfigError, match=r"verdict_seconds 0"):
        Config(kiosk_verdict_s=0)
