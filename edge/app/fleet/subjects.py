"""Where the fleet keeps things at the hub: names, subjects and keys (no nats-py here).

The KV bucket ``sigpad_templates`` holds one key per user (the sealed record;
history 1: the last value or tombstone); the stream ``SIGPAD_AUDIT`` holds
the events, on ``sigpad.audit.<kiosk>.<hex user>``, de-duplicated on
``Nats-Msg-Id`` for a day.
"""

from __future__ import annotations

from dataclasses import dataclass

BUCKET = "sigpad_templates"
KV_STREAM = f"KV_{BUCKET}"
KV_PREFIX = f"$KV.{BUCKET}."
AUDIT_STREAM = "SIGPAD_AUDIT"
AUDIT_PREFIX = "sigpad.audit"
DEDUP_WINDOW_S = 24 * 3600.0   # an outbox row re-sent within a day of its first try is stored once
OP_HEADER = "KV-Operation"
MODELS = "sigpad_models"          # the object store of models (``rollout``)
MODELS_STREAM = f"OBJ_{MODELS}"


def user_key(user: str) -> str:
    """The KV key of a user: user ids may hold ``@`` and ``+``, which KV keys may not."""
    return "u." + user.encode().hex()


def key_user(key: str) -> str:
    return bytes.fromhex(key.removeprefix("u.")).decode()


def audit_subject(kiosk: str, user: str) -> str:
    return f"{AUDIT_PREFIX}.{kiosk}.{user.encode().hex() or '-'}"


@dataclass(frozen=True)
class Seen:
    """One message read back from a stream."""

    seq: int
    subject: str
    op: str          # "" (a value), "DEL" or "PURGE" (KV tombstones)
    data: bytes
