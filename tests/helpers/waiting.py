"""Waiting for an event, never for a length of time.

A test that sleeps a fixed time and then checks passes on an idle machine and
fails on a busy one. These wait until a condition holds, bounded by
``PATIENCE_S``: a bound that only a failing test reaches, so it can be
generous (a machine busy with other work can stall a process for seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

PATIENCE_S = 120.0


def wait_for(condition: Callable[[], object], what: str | Callable[[], str] = "the condition",
             timeout_s: float = PATIENCE_S, every_s: float = 0.02):
    """``condition()``'s first true value; AssertionError naming ``what`` (or saying ``what()``)
    after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"{what() if callable(what) else what}: not within {timeout_s:g} s")
        time.sleep(every_s)
