"""Settings: defaults, then a TOML file (``--config``), then command-line options.

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

from firmware_bridge.errors import ConfigError

SCORES = ("mean-cosine", "centroid-cosine", "centroid-max-cosine", "znorm-mean-cosine", "refnorm-distance")
DEFAULT_FILE = Path(__file__).resolve().parent / "sigpad.toml"


@dataclass(frozen=True)
class Config:
    store: Path | None = None          # None: default_store_path()
    key_file: Path | None = None       # None: store.key beside the store
    store_raw: bool = False            # keep the enrolment signatures (encrypted)
    model: Path | None = None          # None: the shipped model
    backend: str | None = None
    score: str | None = None           # None: the manifest's score
    threshold: float | None = None     # None: the manifest's threshold
    enrol_count: int = 5
    consistency_margin: float = 0.15
    enrol_retries: int = 2             # "sign again" rounds on the pad before giving up
    lockout_after: int = 5
    lockout_s: float = 300.0
    replay_cosine: float = 0.995
    replay_history: int = 50
    port: str | None = None
    protocol: str = "sigpad"
    socket: Path | None = None
    gpio_accept: str | None = None
    gpio_reject: str | None = None
    gpio_pulse_s: float = 1.0

    def __post_init__(self):
        if self.score is not None and self.score not in SCORES:
            raise ConfigError(f"score {self.score!r}: choose from {', '.join(SCORES)}")
        if not 1 <= self.enrol_count <= 10:
            raise ConfigError(f"enrol count {self.enrol_count}: must be 1..10")
        if self.lockout_after < 0 or self.lockout_s < 0:
            raise ConfigError("lockout values must be >= 0 (0 disables lockout)")
        if not 0.0 < self.replay_cosine <= 1.0 or self.replay_history < 0:
            raise ConfigError("replay cosine must be in (0, 1], history >= 0")

    def replace(self, **changes) -> "Config":
        """A copy with the given values; None values are ignored (option not given)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def store_path(self, service: bool = False) -> Path:
        return self.store or default_store_path(service)

    def key_path(self, service: bool = False) -> Path:
        return self.key_file or self.store_path(service).parent / "store.key"


# TOML section/key -> Config field, and the type it must have.
_KEYS = {
    ("store", "path"): ("store", Path), ("store", "key_file"): ("key_file", Path),
    ("store", "store_raw"): ("store_raw", bool),
    ("model", "path"): ("model", Path), ("model", "backend"): ("backend", str),
    ("decision", "score"): ("score", str), ("decision", "threshold"): ("threshold", float),
    ("enrol", "count"): ("enrol_count", int),
    ("enrol", "consistency_margin"): ("consistency_margin", float),
    ("enrol", "retries"): ("enrol_retries", int),
    ("lockout", "after"): ("lockout_after", int), ("lockout", "duration_s"): ("lockout_s", float),
    ("replay", "cosine"): ("replay_cosine", float), ("replay", "history"): ("replay_history", int),
    ("pad", "port"): ("port", str), ("pad", "protocol"): ("protocol", str),
    ("service", "socket"): ("socket", Path), ("service", "gpio_accept"): ("gpio_accept", str),
    ("service", "gpio_reject"): ("gpio_reject", str), ("service", "gpio_pulse_s"): ("gpio_pulse_s", float),
}


def load(path: str | os.PathLike | None = None, base: Config = Config()) -> Config:
    """``base`` updated from a TOML file (the shipped defaults when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_FILE
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    changes = {}
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


def _convert(value, kind, where: str):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a GPIO pin given as a number
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def default_store_path(service: bool = False) -> Path:
    """Where the store lives when ``--store`` is not given.

    Under systemd, ``$STATE_DIRECTORY`` (``StateDirectory=sigpad`` makes it
    /var/lib/sigpad); the service run as root, and anyone who owns
    /var/lib/sigpad (the service's user), use /var/lib/sigpad; everyone else
    the user's data directory ($XDG_DATA_HOME/sigpad).
    """
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "templates.db"
    service_dir = Path("/var/lib/sigpad")
    # The service itself (as root), or the CLI run as the service's user (the
    # owner of /var/lib/sigpad, e.g. through deploy/sigpad-wrapper.sh): one store.
    if (service and os.geteuid() == 0) or _owned_by_me(service_dir):
        return service_dir / "templates.db"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "sigpad" / "templates.db"


def _owned_by_me(path: Path) -> bool:
    try:
        return path.is_dir() and path.stat().st_uid == os.geteuid() and os.geteuid() != 0
    except OSError:
        return False
