"""The verifier's settings record: where the store lives."""

from pathlib import Path

from edge import settings


def test_default_store_locations(monkeypatch, tmp_path):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert settings.default_store_path() == tmp_path / "sigpad" / "templates.db"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sigpad")
    assert settings.default_store_path(service=True) == Path("/var/lib/sigpad/templates.db")
