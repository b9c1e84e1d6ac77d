"""Serial ports on this machine, for ``sigpad ports``: what each one is, who holds it,
whether we may open it, and which pad protocols its USB id belongs to.

``list_ports()`` lists them; ``describe`` tells about one. Who holds a port and
whether this user may open it are the byte layer's (``port_access``), which the
transport also uses to explain a failed open; only the guess at a protocol
from the USB id needs the protocols, which is why this module is not in the
byte layer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from serial.tools import list_ports as serial_list_ports
from serial.tools.list_ports_common import ListPortInfo

from .port_access import Holder, Identity, access_fix, holders
from .protocols import PROTOCOLS

BY_ID = Path("/dev/serial/by-id")
# Names that udev rules or Raspberry Pi OS give serial ports, listed when present.
WELL_KNOWN = ("/dev/sigpad", "/dev/serial0", "/dev/serial1")


@dataclass(frozen=True)
class PortInfo:
    """One serial port as ``sigpad ports`` reports it."""

    device: str                   # the name it was found or given by
    path: str                     # the device node it resolves to
    exists: bool
    usb_id: str | None            # "vvvv:pppp"
    description: str
    by_id: str | None             # its stable /dev/serial/by-id/ name
    looks_like: tuple[str, ...]   # protocols whose USB id it has
    held_by: tuple[Holder, ...]
    may_open: bool
    group: str | None
    fix: str | None               # what to do when this user may not open it

    @property
    def in_use(self) -> bool:
        return bool(self.held_by)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["looks_like"] = list(self.looks_like)
        d["held_by"] = [asdict(h) for h in self.held_by]
        d["in_use"] = self.in_use
        return d


# --- listing ------------------------------------------------------------------------

def by_id_links(directory: Path = BY_ID) -> dict[str, str]:
    """Device node -> its stable name under /dev/serial/by-id."""
    try:
        return {os.path.realpath(p): str(p) for p in sorted(directory.iterdir())}
    except OSError:
        return {}


def looks_like(vid: int | None, pid: int | None) -> tuple[str, ...]:
    return tuple(name for name, p in sorted(PROTOCOLS.items()) if (vid, pid) in p.usb_ids)


def describe(device: str, found: ListPortInfo | None = None, links: dict[str, str] | None = None,
             me: Identity | None = None) -> PortInfo:
    """A ``PortInfo`` for ``device``; ``found``: its pyserial ``ListPortInfo`` if listed."""
    path = os.path.realpath(device)
    links = by_id_links() if links is None else links
    vid, pid = (found.vid, found.pid) if found is not None else (None, None)
    try:
        may_open, group, fix = access_fix(os.stat(path), me or Identity.current())
        exists = True
    except OSError:
        exists, may_open, group, fix = False, False, None, "no such device"
    desc = found.description if found is not None and found.description != "n/a" else ""
    return PortInfo(device, path, exists, f"{vid:04x}:{pid:04x}" if vid is not None else None, desc,
                    links.get(path), looks_like(vid, pid), holders(path), may_open, group, fix)


def list_ports(extra: Iterable[str] = ()) -> list[PortInfo]:
    """Every serial port pyserial lists, the well-known names present, and ``extra`` names."""
    listed = {os.path.realpath(p.device): p for p in serial_list_ports.comports()}
    names = [*extra, *(n for n in WELL_KNOWN if os.path.exists(n)), *sorted(p.device for p in listed.values())]
    links, me, seen, out = by_id_links(), Identity.current(), set(), []
    for name in names:
        real = os.path.realpath(name)
        if real in seen:
            continue
        seen.add(real)
        out.append(describe(name, listed.get(real), links, me))
    return out
