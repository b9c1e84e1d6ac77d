"""A kiosk's membership of a fleet, as the CLI and the service both use it.

Its files (``fleet.json``, ``fleet.key``, the nkey seed ``kiosk.nk``), the link to the hub (nats-py,
imported only here and in ``link``), one sync that says when the link goes
down or up, the enrolment role, and the lockout while the hub is away. Kept
apart from ``commands`` (the ``sigpad fleet`` front end) so that the
service can use it without importing the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ...errors import FleetError
from ...lockout import LockoutPolicy
from .hubconf import ENROL
from .nkeyid import read_seed
from .sealing import FleetKeys, read_private
from .sync import FleetKiosk, SyncReport

log = logging.getLogger("sigpad.fleet")
T = TypeVar("T")


def joined(directory: Path) -> tuple[dict[str, Any], FleetKeys]:
    conf = read_private(directory / "fleet.json", "fleet membership")
    conf["fleet_dir"] = str(directory)          # where its seed is (not kept: the directory may move)
    keys = FleetKeys.from_json(read_private(directory / "fleet.key", "fleet key"), str(directory / "fleet.key"))
    return conf, keys


def link_module() -> Any:
    """``.link`` (nats-py), imported only where a hub is spoken to; without the extra, said so."""
    try:
        from . import link
    except ImportError as exc:
        raise FleetError(f"the fleet needs nats-py ({exc}): pip install 'sigpad[fleet]'") from None
    return link


def credentials(conf: dict[str, Any]) -> Any:
    """``link.Credentials`` of the kiosk whose ``fleet.json`` is ``conf`` (its seed read from
    ``kiosk.nk`` beside it, and checked: a damaged seed is named, not sent)."""
    hub = link_module()
    seed = read_seed(Path(conf["fleet_dir"]), conf.get("nkey"))
    return hub.Credentials(conf["url"], conf["kiosk"], seed, conf.get("ca_cert"))


def on_link(args: argparse.Namespace, conf: dict[str, Any], work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(link)`` on a fresh connection to the hub; ``FleetError`` if there is none."""
    hub = link_module()
    creds = credentials(conf)

    async def go() -> T:
        link = await hub.Link.open(creds, args.link_timeout)
        try:
            return await work(link)
        finally:
            await link.close()
    return asyncio.run(go())


def try_sync(args: argparse.Namespace, kiosk: FleetKiosk, link_log: logging.Logger = log) -> SyncReport | None:
    """Sync if the hub answers; None (said on stderr and in the state) if not. The link
    going down or up is one line on ``link_log``, once per change (the state keeps it)."""
    conf = kiosk.link_conf
    try:
        report = on_link(args, conf, kiosk.sync)
    except FleetError as exc:
        if kiosk.state.get("link") != "down":
            link_log.warning("fleet link down: %s", exc)
        kiosk.state.put("link", "down")
        kiosk.state.put("link_error", str(exc))
        return None
    if kiosk.state.get("link") == "down":
        link_log.warning("fleet link up: %s", conf["url"])
    kiosk.state.put("link", "up")
    return report


def need_enrol_role(conf: dict[str, Any], what: str) -> None:
    """Refused here before anything changes (the hub refuses it too: hub.conf's permissions)."""
    if ENROL not in conf["roles"]:
        raise FleetError(f"kiosk {conf['kiosk']} has no enrolment role: {what} at a kiosk that has it")


def offline_lockout(policy: LockoutPolicy, offline_after: int) -> LockoutPolicy:
    """The lockout while the hub is away: fewer failures, so that a forger going from one
    cut-off kiosk to the next gains at most ``offline_after`` tries at each (docs/fleet.md)."""
    if not policy.enabled or offline_after <= 0:
        return policy
    return LockoutPolicy(min(policy.after, offline_after), policy.duration_s)
