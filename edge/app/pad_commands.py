"""Pad bring-up: ``sigpad ports`` (what is plugged in) and ``sigpad probe`` (who speaks there).

Neither opens the store or the model: they answer "is the pad there, can I
open it, what does it say" before anyone enrols. ``probe`` exits 0 when a
pad was recognised, else with the reason of what it heard (``pad-silent``,
``pad-garbled``: exit 2) and the fix.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from firmware_bridge.port_access import Holder
from firmware_bridge.ports import PortInfo, list_ports
from firmware_bridge.probe import probe as run_probe

from ..decision import Reason
from .config import Config
from .report import EXIT_CODES, OK, emit


def ports(args: argparse.Namespace, cfg: Config) -> int:
    extra = [*args.names, *([cfg.port] if cfg.port and cfg.port != "auto" and "://" not in cfg.port else [])]
    found = list_ports(extra)
    emit(args, {"ports": [p.to_dict() for p in found]},
         "\n".join(_port_line(p) for p in found) or "no serial ports found")
    return OK


def _port_line(p: PortInfo) -> str:
    parts = [p.device + (f" -> {p.path}" if p.path != p.device else "")]
    parts.append(f"usb {p.usb_id}" if p.usb_id else "no usb id")
    if p.description:
        parts.append(p.description)
    if p.by_id:
        parts.append(p.by_id)
    parts.append("looks like " + "/".join(p.looks_like) if p.looks_like else "protocol unknown (sigpad probe)")
    locked = [h for h in p.held_by if h.lock]
    opened = [h for h in p.held_by if not h.lock]
    if locked:
        parts.append(f"in use by {_pids(locked)}")
    if opened:
        parts.append(f"open in {_pids(opened)}")
    if not p.held_by:
        parts.append("free")
    parts.append("you may open it" if p.may_open else f"you may not open it: {p.fix}")
    return "; ".join(parts)


def _pids(holders: Iterable[Holder]) -> str:
    return ", ".join(f"PID {h.pid}" + (f" ({h.command})" if h.command else "") for h in holders)


def probe(args: argparse.Namespace, cfg: Config) -> int:
    port = args.port or cfg.port
    if not port:
        from ..errors import ConfigError
        raise ConfigError("probe needs --port URL, or [pad] port in the config (`sigpad ports` lists them)")
    protocols = [args.protocol] if args.protocol else None
    verdict = run_probe(port, protocols, args.baud, args.seconds,
                        wanted=args.protocol or cfg.protocol, wanted_baud=args.baud or cfg.baud)
    reason = None
    if verdict.protocol is None:
        reason = Reason.PAD_SILENT if verdict.bytes == 0 else Reason.PAD_GARBLED
    text = f"{port}: {verdict.verdict}" + (f"\nfix: {verdict.fix}" if verdict.fix else "")
    emit(args, {**verdict.to_dict(), "reason": reason}, text)
    return OK if reason is None else EXIT_CODES[reason]
