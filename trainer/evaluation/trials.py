"""The trials of the SVC2004-style evaluation protocol: who is compared with whom.

Per user and trial: ``refs`` references drawn from the user's first
``ref_pool`` genuine signatures (S1..S<ref_pool> that exist); genuine tests =
every other genuine signature of the user; skilled impostors = the user's
forgeries; random impostors = one genuine signature of every other user.
The draw for (seed, user, trial) does not depend on which other users are in
the run, so a user's trials are the same in a 5-user and a 30-user run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware_bridge.svc2004 import UserFiles

Key = tuple[int, int]  # (user, signature number)


@dataclass(frozen=True)
class Trial:
    user: int
    index: int
    refs: tuple[Key, ...]
    genuine: tuple[Key, ...]
    skilled: tuple[Key, ...]
    random: tuple[Key, ...]


def parse_users(spec: str | None) -> set[int] | None:
    """``"1-20,25"`` -> {1..20, 25}; None or "" -> None (all users)."""
    if not spec:
        return None
    users: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"bad user range {part.strip()!r} (use e.g. 1-20,25)") from None
        if a > b:
            raise ValueError(f"bad user range {part.strip()!r}: {a} > {b}")
        users.update(range(a, b + 1))
    return users


def make_trials(users: dict[int, UserFiles], trials: int = 10, refs: int = 5,
                ref_pool: int = 10, seed: int = 0) -> list[Trial]:
    out = []
    for u, files in users.items():
        pool = sorted(s for s in files.genuine if s <= ref_pool)
        if len(pool) < refs:
            continue  # cannot enrol this user under the protocol
        others = [v for v in users if v != u and users[v].genuine]
        for k in range(trials):
            rng = np.random.default_rng([seed, u, k])
            chosen = sorted(int(s) for s in rng.choice(pool, size=refs, replace=False))
            out.append(Trial(
                user=u, index=k,
                refs=tuple((u, s) for s in chosen),
                genuine=tuple((u, s) for s in sorted(files.genuine) if s not in chosen),
                skilled=tuple((u, s) for s in sorted(files.forgeries)),
                random=tuple((v, int(rng.choice(sorted(users[v].genuine)))) for v in others),
            ))
    return out


SESSION_REFS = range(1, 6)
SESSION_TESTS = range(11, 21)


def make_session_trials(users: dict[int, UserFiles], seed: int = 0, refs: int = len(SESSION_REFS)) -> list[Trial]:
    """Session drift: references S1-S5 (S1-S<refs>), genuine tests S11-S20 only.

    SVC2004 collected S1-S10 in a first session and S11-S20 in a second one
    at least a week later: enrolled in one session, verified in the next,
    which is how a device is used. One trial per user; skilled impostors are
    all the user's forgeries; random impostors one genuine signature of each
    other user (drawn from ``seed``, as in ``make_trials``).
    """
    if not 1 <= refs <= SESSION_TESTS.start - 1:
        raise ValueError(f"session references are S1-S<refs> of the first session (S1-S10): {refs}")
    out = []
    for u, files in users.items():
        enrolled = [s for s in range(1, refs + 1) if s in files.genuine]
        tests = [s for s in SESSION_TESTS if s in files.genuine]
        if len(enrolled) < refs or not tests:
            continue
        rng = np.random.default_rng([seed, u, 1_000])
        others = [v for v in users if v != u and users[v].genuine]
        out.append(Trial(user=u, index=0, refs=tuple((u, s) for s in enrolled),
                         genuine=tuple((u, s) for s in tests),
                         skilled=tuple((u, s) for s in sorted(files.forgeries)),
                         random=tuple((v, int(rng.choice(sorted(users[v].genuine)))) for v in others)))
    return out


PROTOCOLS: dict[str, Callable[..., list[Trial]]] = {"random-refs": make_trials, "session": make_session_trials}
"""The evaluation protocols by name: SVC2004-style (refs drawn from S1-S10) and session drift."""


def trial_plan(users: dict[int, UserFiles], protocol: str = "random-refs", trials: int = 10, refs: int = 5,
               ref_pool: int = 10, seed: int = 0) -> list[Trial]:
    """The trials of ``protocol`` (``trials``, ``refs`` and ``ref_pool`` shape random-refs only)."""
    if protocol == "random-refs":
        return make_trials(users, trials=trials, refs=refs, ref_pool=ref_pool, seed=seed)
    return PROTOCOLS[protocol](users, seed=seed)
