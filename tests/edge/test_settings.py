"""The verifier's settings record: where the store lives, the lockout's limits."""

from pathlib import Path

import pytest

from edge import settings
from edge.errors import ConfigError
from edge.lockout import LockoutPolicy


def test_default_store_locations(monkeypatch, tmp_path):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert settings.default_store_path() == tmp_path / "sigpad" / "templates.db"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sigpad")
    assert settings.default_store_path(service=True) == Path("/var/lib/sigpad/templates.db")


def test_lockout_limits_are_the_policys():
    assert settings.Settings(lockout_after=3, lockout_s=60).lockout == LockoutPolicy(3, 60.0)
    with pytest.raises(ConfigError, match="lockout values must be >= 0"):
        settings.Settings(lockout_s=-1)


def test_an_enrolment_takes_3_to_12_signatures_and_6_by_default():
    assert settings.Settings().enrol_count == 6
    for n in (3, 12):
        assert settings.Settings(enrol_count=n).enrol_count == n
    for n in (2, 13):
        with pytest.raises(ConfigError, match=f"enrol count {n}: must be 3..12"):
            settings.Settings(enrol_count=n)
