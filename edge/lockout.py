"""Lockout after consecutive failed attempts, as pure functions of a small state.

``after`` consecutive rejections lock the user for ``duration_s``; an accept
resets the count. While locked, attempts are refused without running the
model and without extending the lock (so a locked-out user can't be kept out
forever by a stranger who keeps trying). ``after = 0`` disables lockout, for
evaluations that must see every decision of the model.
The state lives in the store, updated in the same transaction as the attempt
log, so two processes on one store count together.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class LockState:
    failures: int = 0
    locked_until: float = 0.0


@dataclass(frozen=True)
class LockoutPolicy:
    after: int = 5
    duration_s: float = 300.0

    def __post_init__(self) -> None:
        if self.after < 0 or self.duration_s < 0:
            raise ConfigError("lockout values must be >= 0 (0 disables lockout)")

    @property
    def enabled(self) -> bool:
        return self.after > 0

    def remaining_s(self, state: LockState, now: float) -> float:
        """Seconds left in a lockout (0 when not locked)."""
        if not self.enabled:
            return 0.0
        return max(0.0, state.locked_until - now)

    def update(self, state: LockState, accepted: bool, now: float) -> LockState:
        if accepted or not self.enabled:
            return LockState(0, 0.0)
        failures = state.failures + 1
        if failures >= self.after:
            return LockState(0, now + self.duration_s)  # count restarts once the lock ends
        return LockState(failures, state.locked_until)
