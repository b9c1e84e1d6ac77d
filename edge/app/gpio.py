"""Accept/reject lines on GPIO pins (gpiozero), with errors that say what to do.

gpiozero needs a pin library (lgpio on current Raspberry Pi OS). Without one
it raises ``BadPinFactory`` ("Unable to load any default pin factory!") and
a bad pin name raises ``PinInvalidPin``; both would end ``sigpad serve`` in
a traceback. Here they become ``ConfigError``: the CLI prints one line
naming the fix and exits 2. ``check_pin_name`` catches a misspelt pin when
the settings load, before any pad or model is opened.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:                     # gpiozero ships no types: these are Any to mypy
    from gpiozero import DigitalOutputDevice, Factory

# The names gpiozero takes for a Pi's pins: GPIO17, BCM17, BOARD11, J8:11, WPI0, or the number.
_PIN = re.compile(r"(GPIO|BCM|BOARD|WPI|J8:)?\d{1,2}", re.IGNORECASE)
PIN_NAMES = "a GPIO name such as GPIO17 (also BCM17, BOARD11 or J8:11 for header pin 11)"
INSTALL = ("install a pin library: on Raspberry Pi OS `sudo apt install python3-lgpio` "
           "(in the bundle's venv: `sudo /opt/sigpad/bin/pip install lgpio`)")


def check_pin_name(name: str | None, setting: str) -> str | None:
    """``name`` if it looks like a pin name gpiozero knows; else ``ConfigError``."""
    if name is not None and not _PIN.fullmatch(str(name).strip()):
        raise ConfigError(f"{setting} = {name!r} is not a pin name: use {PIN_NAMES}")
    return name


def output_device(pin: str, pin_factory: Factory | None = None) -> DigitalOutputDevice:
    """A gpiozero ``DigitalOutputDevice`` on ``pin``; ``ConfigError`` naming the fix on failure."""
    try:
        from gpiozero import DigitalOutputDevice
        from gpiozero.exc import BadPinFactory, PinError
    except ImportError as exc:
        raise ConfigError(f"GPIO output needs gpiozero ({exc}): pip install 'sigpad[edge]'") from None
    try:
        with warnings.catch_warnings():
            # Each pin library gpiozero tries and misses is a warning; the error below says it all.
            warnings.simplefilter("ignore")
            return DigitalOutputDevice(pin, pin_factory=pin_factory)
    except BadPinFactory:
        raise ConfigError(f"GPIO pin {pin}: gpiozero found no pin library (lgpio, RPi.GPIO, pigpio) "
                          f"on this machine; {INSTALL}") from None
    except (PinError, ValueError) as exc:
        raise ConfigError(f"GPIO pin {pin}: {exc}; use {PIN_NAMES}") from None


class Outputs:
    """Accept/reject lines; ``pin_factory`` lets tests use gpiozero's MockFactory."""

    def __init__(self, accept: str | None, reject: str | None, pulse_s: float = 1.0,
                 pin_factory: Factory | None = None):
        self.pulse_s = pulse_s
        self.accept: DigitalOutputDevice | None = None
        self.reject: DigitalOutputDevice | None = None
        try:
            self.accept = output_device(accept, pin_factory) if accept else None
            self.reject = output_device(reject, pin_factory) if reject else None
        except ConfigError:
            self.close()  # the accept line was claimed already: release it
            raise

    def show(self, accepted: bool) -> None:
        line = self.accept if accepted else self.reject
        if line is not None:
            line.blink(on_time=self.pulse_s, off_time=0, n=1, background=True)

    def close(self) -> None:
        for line in (self.accept, self.reject):
            if line is not None:
                line.off()  # stops a pulse in progress before the pin is released
                line.close()
