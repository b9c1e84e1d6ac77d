"""What the operator does to the store, once for every front end.

The CLI run alone, the control socket (``unlock``, ``history``,
``adaptations``, ``undo-adaptations``) and the operator's web page
(``operator_web``) all call these, so an unlock or an undo is kept in the
user's history the same way whichever way it came, and the page shows
the same rows ``sigpad history`` prints. Blocking (the store): the service
calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from ..errors import UnknownUser
from ..store import Store

log = logging.getLogger("sigpad.operator")
Message = dict[str, Any]


def unlock_user(store: Store, user: str, by: str) -> Message:
    """Clear ``user``'s failures and lock, and keep who did it in their history."""
    before = store.unlock(user)
    if before is None:
        raise UnknownUser(f"{user!r} is not enrolled in {store.path}")
    was = max(0.0, before.locked_until - time.time())
    store.log_decision(user, time.time(), {"event": "unlocked", "by": by,
                                           "failures": before.failures, "lock_left_s": round(was)})
    log.warning("unlocked %s by %s (%d failures, %.0f s of lock left)", user, by, before.failures, was)
    return {"user": user, "unlocked": True, "failures": before.failures, "was_locked_s": round(was),
            "store": str(store.path)}


def user_adaptations(store: Store, user: str) -> Message:
    """``user``'s adaptations, oldest first: when, which reference, the score, undone when."""
    return {"user": user, "adaptations": store.adaptations(user), "store": str(store.path)}


def undo_adaptations(store: Store, user: str, by: str) -> Message:
    """Put ``user``'s enrolment references back, and keep who did it in their history."""
    now = time.time()
    undone = [a for a in store.adaptations(user) if a["undone"] is None]
    restored = store.undo_adaptations(user, now)
    store.log_decision(user, now, {"event": "adaptations-undone", "by": by, "adaptations": len(undone),
                                   "restored": restored})
    log.warning("adaptations of %s undone by %s (%d adaptations, %d enrolment references restored)",
                user, by, len(undone), restored)
    return {"user": user, "undone": len(undone), "restored": restored, "store": str(store.path)}


def user_history(store: Store, user: str, last: int = 20) -> Message:
    """``user``'s last decisions (newest first, with reasons and scores) and lock state."""
    if store.enrolled_model(user) is None:
        raise UnknownUser(f"{user!r} is not enrolled in {store.path}")
    lock = store.lock_state(user)
    return {"user": user, "history": store.decision_log(user, max(1, min(int(last), 500))),
            "failures": lock.failures, "locked_until": lock.locked_until, "store": str(store.path)}


def overview(store: Store, current_shas: Collection[str] | None, last: int = 5) -> Message:
    """Every user with their lock state and last few decisions: the operator page's table."""
    now = time.time()
    rows = []
    for info in store.users():
        row = info.to_dict(current_shas)
        lock = store.lock_state(info.user)
        row.update(failures=lock.failures, locked=lock.locked_until > now,
                   locked_until=lock.locked_until, recent=store.decision_log(info.user, last))
        rows.append(row)
    return {"users": rows, "store": str(store.path), "at": now}
