"""Shared fixtures: where the SVC2004 data lives, and skipping cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.svc2004 import default_data_root

DATA_ROOT = default_data_root()


@pytest.fixture(scope="session")
def svc2004_root() -> Path:
    """``../shared/data/svc2004`` (or $SIGPAD_DATA); tests needing it skip without it."""
    if not (DATA_ROOT / "Task2").is_dir():
        pytest.skip(f"SVC2004 data not found at {DATA_ROOT} (set SIGPAD_DATA)")
    return DATA_ROOT
