"""Pad protocols, one module each, chosen by name.

``PROTOCOLS`` maps a name (``--protocol isdv4|sigpad|topaz``) to a
``Protocol`` record: pure ``decode``/``encode`` functions, line settings,
host commands and USB ids. See ``base`` for the events decoders emit.

>>> from firmware_bridge.protocols import get
>>> events, rest = get("isdv4").decode(bytes.fromhex("a13264 1f207f073c46"))
>>> events
[PenReport(x=26000 y=16000 p=1023 tip)]
"""

from __future__ import annotations

from ..errors import ProtocolError
from ..line import SerialSettings
from . import isdv4, sigpad, topaz
from .base import Capabilities, Command, Done, Event, FrameSeq, PenReport, Protocol, Skipped, Status

PROTOCOLS: dict[str, Protocol] = {
    p.name: p for p in (isdv4.PROTOCOL, sigpad.PROTOCOL, topaz.PROTOCOL)}


def get(name: str | Protocol) -> Protocol:
    """The protocol of that name; raises ``ProtocolError`` listing the known ones."""
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ProtocolError(
            f"unknown pad protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}") from None


__all__ = [
    "PROTOCOLS",
    "Capabilities",
    "Command",
    "Done",
    "Event",
    "FrameSeq",
    "PenReport",
    "Protocol",
    "SerialSettings",
    "Skipped",
    "Status",
    "get",
]
