"""Fleet fixtures: a hub and kiosks per test, in the test's tmp dir (fleet_harness)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fleet_harness import Hub, need_fleet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # service_harness, for the service's fleet tests


@pytest.fixture
def hub_for(tmp_path):
    """``hub_for({"a": ["enrol"], ...}, tls=False)``: a started hub, stopped at the end."""
    need_fleet()
    hubs: list[Hub] = []

    def make(kiosks: dict[str, list[str]], tls: bool = False) -> Hub:
        hubs.append(Hub(tmp_path, kiosks, tls=tls))
        return hubs[-1]
    yield make
    for hub in hubs:
        hub.stop()
