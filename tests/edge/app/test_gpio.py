"""GPIO lines: gpiozero's MockFactory for the pins, and no pin library at all
(this machine has none), each ending in one line that names the fix."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from gpiozero.pins.mock import MockFactory

from edge.app.config import Config
from edge.app.gpio import Outputs, check_pin_name
from edge.errors import ConfigError

NO_PIN_LIBRARY = not any(importlib.util.find_spec(m) for m in ("lgpio", "RPi", "pigpio"))


def test_outputs_on_mock_pins():
    pins = MockFactory()
    out = Outputs("GPIO17", "BOARD13", pulse_s=0.05, pin_factory=pins)   # BOARD13 is GPIO27
    out.show(True)
    assert pins.pin(17).state == 1 and pins.pin(27).state == 0
    out.close()


@pytest.mark.parametrize("pin, words", [("GPIO99", "GPIO99 is not a valid pin name"),
                                        ("BOARD1", "is not a GPIO pin")])
def test_a_bad_pin_names_the_pin_and_the_names_to_use(pin, words):
    pins = MockFactory()
    with pytest.raises(ConfigError) as caught:
        Outputs("GPIO17", pin, pin_factory=pins)
    assert words in str(caught.value) and "GPIO17" in str(caught.value) and "J8:11" in str(caught.value)
    Outputs("GPIO17", None, pin_factory=pins).close()   # the accept line was released


@pytest.mark.skipif(not NO_PIN_LIBRARY, reason="a pin library is installed here")
def test_no_pin_library_names_the_package():
    with pytest.raises(ConfigError, match=r"no pin library .*sudo apt install python3-lgpio"):
        Outputs("GPIO17", None)


def test_pin_names_are_checked_when_the_settings_load():
    assert check_pin_name("GPIO17", "x") == "GPIO17" and check_pin_name("17", "x") == "17"
    assert check_pin_name("J8:11", "x") == "J8:11" and check_pin_name(None, "x") is None
    with pytest.raises(ConfigError, match=r"gpio_accept .* 'GPIO 17' is not a pin name"):
        Config(gpio_accept="GPIO 17")


@pytest.mark.skipif(not NO_PIN_LIBRARY, reason="a pin library is installed here")
def test_serve_without_a_pin_library_exits_2_without_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edge.app.cli", "serve", "--port", str(tmp_path / "pad"),
                        "--gpio-accept", "GPIO17", "--store", str(tmp_path / "t.db"),
                        "--socket", str(tmp_path / "c.sock"), "--http", "off"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "apt install python3-lgpio" in r.stderr and "no pad yet" not in r.stderr  # before waiting for a pad
    assert r.stderr.count("\n") == 1, r.stderr


def test_serve_with_a_misspelt_pin_exits_2_without_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edge.app.cli", "serve", "--port", str(tmp_path / "pad"),
                        "--gpio-reject", "GPIO_27", "--http", "off"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "'GPIO_27' is not a pin name" in r.stderr
