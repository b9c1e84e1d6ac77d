"""What a judge says of one attempt (``edge.store.Store.judge``): the verdict and what to record.

Plain values, kept apart from the store's rows; ``edge.store`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lockout import LockState
from .store_schema import Attempt, Replacement


@dataclass(frozen=True)
class LockedOut:
    """Not judged: the user is locked out (a parallel attempt locked them meanwhile)."""

    remaining_s: float


@dataclass(frozen=True)
class Replayed:
    """Judged a replay of an earlier signature (``edge.replay``): rejected, and counted."""

    why: str


@dataclass(frozen=True)
class Scored:
    """Judged on its score: accepted or not, and which reference an accept replaced
    (``edge.adaptation``; "" none)."""

    accepted: bool
    adapted: str = ""


Verdict = LockedOut | Replayed | Scored
"""What the store judged of one attempt, handed back by ``Store.judge``."""


@dataclass(frozen=True)
class Judged:
    """A judge's answer: the attempt to record (None: none), the new lock state
    (None: unchanged), the verdict ``Store.judge`` hands back to its caller, and a
    template to replace (None: none) in the same transaction."""

    attempt: Attempt | None
    state: LockState | None
    verdict: Verdict
    replacement: Replacement | None = None
