"""How a serial line is set: what a protocol asks of it and the transport sets.

It lives in the byte layer, apart from the decoders, so that the transport can
take a protocol's settings without importing a protocol (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SerialSettings:
    """Line settings, as pyserial names them (a pty ignores all of them)."""

    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


DEFAULT_LINE = SerialSettings()
"""115200 8N1, what a transport opens with unless told otherwise."""
