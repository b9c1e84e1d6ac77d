"""The virtual pad does what its Protocol record says (heartbeats, the version a
query agrees on), whatever the protocol is called."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from firmware_bridge.protocols import get
from firmware_bridge.protocols.base import Capabilities, Status
from firmware_bridge.transport import Transport
from firmware_bridge.virtual import VirtualPad

SIGPAD = get("sigpad")


def events_from(vpad: VirtualPad, send: bytes = b"", until=lambda events: False,
                seconds: float = 0.5) -> list:
    """What the pad sends in ``seconds`` (or until ``until(events)``), decoded."""
    transport = Transport(vpad.path)
    transport.open()
    try:
        transport.write(send)
        data, events, end = b"", [], time.monotonic() + seconds
        while time.monotonic() < end and not until(events):
            data += transport.read(0.05)
            events = vpad.protocol.decode(data)[0]
        return events
    finally:
        transport.close()


@pytest.mark.parametrize("protocol, beats", [
    (SIGPAD, True),
    (replace(SIGPAD, name="renamed"), True),
    (replace(SIGPAD, heartbeat=False), False),
], ids=["sigpad", "renamed", "no-heartbeat"])
def test_heartbeats_follow_the_record_not_the_name(protocol, beats):
    with VirtualPad(protocol, heartbeat_s=0.05) as vpad:
        statuses = [e for e in events_from(vpad) if isinstance(e, Status)]
    assert (len(statuses) >= 2) if beats else not statuses


@pytest.mark.parametrize("pad_version, host_version, agreed", [
    (SIGPAD.version, SIGPAD.version, SIGPAD.version),
    (3, 2, 2),                          # the host speaks less: its version
    (3, 5, 3),                          # the pad speaks less: the pad's
])
def test_a_query_agrees_on_the_lower_version(pad_version, host_version, agreed):
    protocol = replace(SIGPAD, name="renamed", version=pad_version)
    hello = protocol.encode_command("query", arg=host_version)
    with VirtualPad(protocol, heartbeat_s=0) as vpad:
        events = events_from(vpad, hello, seconds=5.0,
                             until=lambda evs: any(isinstance(e, Capabilities) for e in evs))
    caps = [e for e in events if isinstance(e, Capabilities)]
    assert caps and caps[0].version == agreed
