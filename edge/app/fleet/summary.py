"""What ``sigpad status`` says of the fleet, from the kiosk's own files (no hub asked,
no nats-py): member of which hub, as which kiosk, outbox depth, last sync, link."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ...errors import FleetError
from .sealing import read_private
from .state import FleetState


def local_summary(directory: Path) -> dict[str, Any] | None:
    """The fleet state kept in ``directory`` (the store's ``fleet/``); None: not a member."""
    if not (directory / "fleet.json").exists():
        return None
    try:
        conf = read_private(directory / "fleet.json", "fleet membership")
        state = FleetState(directory / "fleet.db")
    except (FleetError, OSError) as exc:
        return {"error": str(exc)}
    try:
        last = float(state.get("last_sync", "0"))
        return {"kiosk": conf.get("kiosk"), "url": conf.get("url"), "roles": conf.get("roles"),
                "link": state.get("link") or "unknown", "outbox": state.depth(),
                "revision": state.cursor("kv"), "last_sync": last or None,
                "stale_s": round(time.time() - last, 1) if last else None}
    finally:
        state.close()


def summary_line(s: dict[str, Any]) -> str:
    if "error" in s:
        return f"fleet    {s['error']}"
    synced = "never synced" if s["last_sync"] is None else f"synced {s['stale_s']} s ago"
    return (f"fleet    kiosk {s['kiosk']} of {s['url']}: link {s['link']}, {synced}, "
            f"outbox {s['outbox']}, revision {s['revision']}")
