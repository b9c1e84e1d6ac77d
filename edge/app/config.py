"""Settings: defaults, then a TOML file (``--config``), then command-line options.

The verifier's own settings are ``edge.settings.Settings`` (the core's record);
``Config`` adds the pad and the service, and this module reads them all from TOML.

``edge/sigpad.toml`` documents every key with its default. Unknown sections
or keys and values of the wrong type are errors (``ConfigError``), not
warnings: a misspelt ``[lockout] afer = 3`` silently ignored would leave a
device less protected than its owner believes.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_bridge.protocols import PROTOCOLS

from ..errors import ConfigError
from ..settings import Settings
from .gpio import check_pin_name

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "sigpad.toml"
AUTO_LANGUAGE = "auto"                 # the signer's page follows the browser's languages
KIOSK_LANGUAGES = ("en", "de", "fr")   # those kiosk/messages.json has (a test checks)


@dataclass(frozen=True)
class Config(Settings):
    """The verifier's settings plus the pad's and the service's."""

    port: str | None = None
    protocol: str = "sigpad"
    baud: int | None = None            # None: the protocol's own rate
    socket: Path | None = None
    gpio_accept: str | None = None
    gpio_reject: str | None = None
    gpio_pulse_s: float = 1.0
    lift_timeout_s: float = 1.5
    http: str = "127.0.0.1:8765"
    token_file: Path | None = None
    writers_group: str | None = None
    max_clients: int = 64
    idle_timeout_s: float = 300.0
    header_timeout_s: float = 10.0     # HTTP: a request's headers within this of connecting
    body_timeout_s: float = 10.0       # HTTP: its body within this
    tls_cert: Path | None = None       # required (with tls_key) to serve HTTP beyond loopback
    tls_key: Path | None = None
    hostnames: tuple[str, ...] = ()    # the Host names the web API answers to, beyond its address
    kiosk_language: str = AUTO_LANGUAGE
    kiosk_verdict_s: float = 6.0       # the signer's page goes back to "please wait" after this
    fleet_sync_s: float = 5.0          # serve, as a fleet member: a sync this often (docs/fleet.md)
    fleet_offline_lockout_after: int = 2   # serve, hub away: lock after this many failures (0: as [lockout])

    def __post_init__(self) -> None:
        super().__post_init__()
        # Checked when the settings load, not when a pad first opens hours later.
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"pad protocol {self.protocol!r}: choose from {', '.join(sorted(PROTOCOLS))}")
        if self.baud is not None and not 50 <= self.baud <= 4_000_000:
            raise ConfigError(f"pad baud {self.baud}: a serial line runs at 50 to 4000000 baud "
                              "(ISDV4 pads: 38400 or 19200)")
        check_pin_name(self.gpio_accept, "[service] gpio_accept / --gpio-accept")
        check_pin_name(self.gpio_reject, "[service] gpio_reject / --gpio-reject")
        if not 0 < self.lift_timeout_s <= 60:
            raise ConfigError(f"lift timeout {self.lift_timeout_s!r} s: must be in (0, 60]")
        if not 1 <= self.max_clients <= 10_000 or not self.idle_timeout_s > 0:
            raise ConfigError("max_clients must be 1..10000 and idle_timeout_s > 0")
        if not 0 < self.header_timeout_s <= 600 or not 0 < self.body_timeout_s <= 600:
            raise ConfigError("header_timeout_s and body_timeout_s must be in (0, 600]")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("[service] tls_cert and tls_key go together: set both or neither")
        http_address(self.http)         # raises ConfigError naming the value
        if self.kiosk_language not in (AUTO_LANGUAGE, *KIOSK_LANGUAGES):
            raise ConfigError(f"[kiosk] language {self.kiosk_language!r}: choose from "
                              f"{AUTO_LANGUAGE} (the browser's), {', '.join(KIOSK_LANGUAGES)}")
        if not 1 <= self.kiosk_verdict_s <= 600:
            raise ConfigError(f"[kiosk] verdict_seconds {self.kiosk_verdict_s!r}: must be 1 to 600")
        if not 0.1 <= self.fleet_sync_s <= 3600 or self.fleet_offline_lockout_after < 0:
            raise ConfigError(f"[fleet] sync_s {self.fleet_sync_s!r} must be 0.1 to 3600 and "
                              f"offline_lockout_after {self.fleet_offline_lockout_after!r} at least 0")


def http_address(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a pair, or None for ``off``."""
    if value.strip().lower() == "off":
        return None
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"http address {value!r}: expected HOST:PORT (e.g. 127.0.0.1:8765) or off")
    return host, int(port)


# TOML section/key -> Config field, and the type it must have.
_KEYS = {
    ("store", "path"): ("store", Path), ("store", "key_file"): ("key_file", Path),
    ("store", "store_raw"): ("store_raw", bool),
    ("model", "path"): ("model", Path), ("model", "backend"): ("backend", str),
    ("decision", "score"): ("score", str), ("decision", "threshold"): ("threshold", float),
    ("decision", "level"): ("level", str), ("decision", "force_threshold"): ("force_threshold", bool),
    ("enrol", "count"): ("enrol_count", int),
    ("enrol", "consistency_margin"): ("consistency_margin", float),
    ("enrol", "retries"): ("enrol_retries", int),
    ("lockout", "after"): ("lockout_after", int), ("lockout", "duration_s"): ("lockout_s", float),
    ("replay", "cosine"): ("replay_cosine", float), ("replay", "history"): ("replay_history", int),
    ("adaptation", "enabled"): ("adapt", bool), ("adaptation", "margin"): ("adapt_margin", float),
    ("adaptation", "max_per_day"): ("adapt_max_per_day", int),
    ("adaptation", "keep_enrolled"): ("adapt_keep_enrolled", int),
    ("adaptation", "max_drift"): ("adapt_max_drift", float),
    ("pad", "port"): ("port", str), ("pad", "protocol"): ("protocol", str), ("pad", "baud"): ("baud", int),
    ("service", "socket"): ("socket", Path), ("service", "gpio_accept"): ("gpio_accept", str),
    ("service", "gpio_reject"): ("gpio_reject", str), ("service", "gpio_pulse_s"): ("gpio_pulse_s", float),
    ("pad", "lift_timeout_s"): ("lift_timeout_s", float),
    ("service", "http"): ("http", str), ("service", "token_file"): ("token_file", Path),
    ("service", "writers_group"): ("writers_group", str),
    ("service", "max_clients"): ("max_clients", int), ("service", "idle_timeout_s"): ("idle_timeout_s", float),
    ("service", "header_timeout_s"): ("header_timeout_s", float),
    ("service", "body_timeout_s"): ("body_timeout_s", float),
    ("service", "tls_cert"): ("tls_cert", Path), ("service", "tls_key"): ("tls_key", Path),
    ("service", "hostnames"): ("hostnames", tuple),
    ("kiosk", "language"): ("kiosk_language", str), ("kiosk", "verdict_seconds"): ("kiosk_verdict_s", float),
    ("fleet", "sync_s"): ("fleet_sync_s", float),
    ("fleet", "offline_lockout_after"): ("fleet_offline_lockout_after", int),
}


def load(path: str | os.PathLike[str] | None = None, base: Config = Config()) -> Config:
    """``base`` updated from a TOML file (the shipped defaults when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_FILE
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    changes: dict[str, Any] = {}          # each value of the type its field has (``_convert``)
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section!r} must be a [section]")
        for key, value in table.items():
            if (section, key) not in _KEYS:
                raise ConfigError(f"{path}: unknown setting [{section}] {key}")
            name, kind = _KEYS[(section, key)]
            changes[name] = _convert(value, kind, f"{path}: [{section}] {key}")
    try:
        return dataclasses.replace(base, **changes)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _convert(value: object, kind: type, where: str) -> object:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a GPIO pin given as a number
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value
