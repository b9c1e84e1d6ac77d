"""A user's enrolment as a fleet record, out of a kiosk's store and back in.

The record holds what verification needs (``Store.load``): the packed
templates (int8 embedding + DTW sequence), the enrolment's stream MACs, the
profile's statistics, the model's sha and manifest binding; and the
enrolment signatures (SVC2004 text) for a new model to re-derive the
templates from (``rederive``): the hub sees them sealed, kiosks do not store them. Applying it is
one ``Store.save_enrolment`` transaction (replace), so a kiosk never holds
half a record. The lockout counters and replay history are the kiosk's own;
the fleet's failures reach them through the audit stream (``sync``).
"""

from __future__ import annotations

import time
from typing import Any

from ...store import Store
from .sealing import b64, unb64


def export(store: Store, user: str, kiosk: str, enrol_id: str) -> dict[str, Any]:
    """``user``'s enrolment as it stands in ``store`` (raises ``UnknownUser``)."""
    model_sha = store.enrolled_model(user)
    if model_sha is None:
        from ...errors import UnknownUser
        raise UnknownUser(f"{user!r} is not enrolled")
    enrolled = store.load(user, model_sha)
    stats = {k: v for k, v in enrolled.profile.items() if k != "template_ids"}
    info = {u.user: u for u in store.users()}[user]
    return {"user": user, "model_sha": model_sha, "templates": [b64(t) for t in enrolled.templates],
            "stream_macs": [b64(m) for m in enrolled.stream_macs], "stats": stats,
            "binding": store.model_binding(model_sha), "enrolled_at": info.enrolled_at,
            "kiosk": kiosk, "enrol_id": enrol_id, "published_at": time.time(),
            "signatures": store.raw_signatures(user)}      # kept only where [store] store_raw


def apply(store: Store, record: dict[str, Any]) -> None:
    """Make ``record`` the user's enrolment in ``store`` (one transaction, replacing any)."""
    templates = [unb64(t) for t in record["templates"]]
    macs = [unb64(m) for m in record["stream_macs"]]
    store.save_enrolment(record["user"], record["model_sha"], templates, macs, dict(record["stats"]),
                         replace=True, binding=record.get("binding"))
