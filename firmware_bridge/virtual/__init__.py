"""The virtual pad: part of the product, used by tests, demos and the CLI.

Like gpiozero's mock pins, the virtual pad is a backend you can swap in for
real hardware: it opens a pseudo-terminal, speaks a real protocol over it
(``isdv4``, ``sigpad`` or ``topaz``), and the host side (``open_pad``) cannot
tell it from a pad on a USB adapter.

In the same process (tests, demos)::

    from firmware_bridge.virtual import VirtualPad
    from firmware_bridge.pad import open_pad

    with VirtualPad("isdv4") as vpad, open_pad(vpad.path, "isdv4") as pad:
        vpad.sign(signature)                 # paced at the signature's own rate
        item = next(pad.signatures())        # Signature (or Refusal)
        vpad.inject_garbage(64); vpad.corrupt_frames(1); vpad.drop_frames(2)
        vpad.unplug(); vpad.replug()

From a shell (prints the port path, serves until Ctrl-C)::

    python -m firmware_bridge.virtual --protocol isdv4 --file U1S1.TXT
    python -m firmware_bridge.virtual --protocol sigpad --synthetic 7

``synthetic_signatures`` signs with the synthetic-writer generator
(``firmware_bridge.synthetic``, imported only when asked for), so demos and
tests need no dataset.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import SignatureError
from ..signature import Signature
from .link import PtyLink
from .pad import Replay, VirtualPad, reports_for


def synthetic_signatures(seed: int, count: int = 5, forgeries: bool = False,
                         rate_hz: float = 100.0) -> Iterator[Signature]:
    """Signatures of one synthetic writer (genuine, or forgeries of them).

    Raises ``SignatureError`` when ``firmware_bridge.synthetic`` is not installed.
    """
    try:
        from .. import synthetic
    except ImportError as exc:
        raise SignatureError(
            f"the synthetic writer (firmware_bridge.synthetic) is not available: {exc}") from exc
    writer = synthetic.make_writer(seed)
    make = writer.forgery if forgeries else writer.genuine
    for i in range(count):
        yield make(i, rate_hz=rate_hz)


__all__ = ["PtyLink", "Replay", "VirtualPad", "reports_for", "synthetic_signatures"]
