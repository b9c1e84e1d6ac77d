"""Fixtures for the firmware_bridge tests (signatures that need no dataset are
in ``helpers.signatures``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.signature import Signature


@pytest.fixture
def svc_sig(svc2004_root: Path) -> Signature:
    """SVC2004 Task2 U1S1 (skips without the data, as ``svc2004_root`` does)."""
    from firmware_bridge import svc2004
    return svc2004.read(svc2004_root / "Task2" / "U1S1.TXT")
