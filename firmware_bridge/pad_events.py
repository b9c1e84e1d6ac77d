"""What a pad's reader sees, one small immutable record per kind (as python-evdev does).

``Pad.signatures(observe=...)`` shows the observer every ``PadEvent`` as it
happens, on the reader's thread, before capture sees it:

* what the stream decoded (a ``StreamEvent``): a ``Sample`` (live ink),
  ``Done`` (the pad's button), ``Status`` (a heartbeat), ``Capabilities``
  (the handshake's answer) or ``Damage`` (a stretch the stream cannot vouch for);
* ``Read(n)``: a read of the port came back with ``n`` bytes, after the
  stream events decoded from them (0: the wait ended with nothing, a tick).
  A read that came back means the pad is there: after an ``Unplugged``, the
  next ``Read`` says the pad answers again;
* ``Unplugged(reason)``: the port failed (cable pulled, pty closed). The
  signature in progress is refused and the port reopened with backoff.

Each kind is its own class, so a consumer dispatches with ``isinstance`` or
``match`` and a type checker sees every case:

    >>> from firmware_bridge.pad_events import Read, Unplugged
    >>> Read(12), Unplugged("/dev/ttyUSB0: pad went away")
    (Read(n=12), Unplugged(reason='/dev/ttyUSB0: pad went away'))
"""

from __future__ import annotations

from typing import NamedTuple

from .protocols.base import Capabilities, Damage, Done, Status
from .signature import Sample

StreamEvent = Sample | Damage | Done | Status | Capabilities
"""What ``stream.SampleStream.feed`` turns bytes into."""


class Read(NamedTuple):
    """A read of the port came back with ``n`` bytes (0: none came before the timeout, a tick)."""

    n: int


class Unplugged(NamedTuple):
    """The pad went away; ``reason``: the transport's words (port and error)."""

    reason: str


PadEvent = StreamEvent | Read | Unplugged
"""Everything ``Pad.signatures`` shows its observer."""
