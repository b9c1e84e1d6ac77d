"""The verifier's settings: one validated record, and where the store lives.

The boundary between the verifier core and the application (``edge.app``)
runs through the settings: the verifier needs its store, model, score,
threshold, enrolment, lockout, replay and adaptation settings (the ``[store]``,
``[model]``, ``[decision]``, ``[enrol]``, ``[lockout]``, ``[replay]`` and ``[adaptation]``
sections of ``sigpad.toml``), so that record lives here, in the core, with
its checks. Reading TOML, command-line overrides and the pad and service
settings (``[pad]``, ``[service]``) belong to the application:
``edge.app.config.Config`` extends this record with them. A caller that
embeds the verifier (a web API, a benchmark) builds a ``Settings`` and never
imports the application.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from . import scores
from .adaptation import AdaptationPolicy
from .errors import ConfigError
from .lockout import LockoutPolicy

ENROL_COUNTS = (3, 12)
"""Signatures an enrolment takes (``[enrol] count``): fewer than 3 leave no leave-one-out
to check, more than 12 tire the signer; the store's per-user budget may cap it lower
for a model (``templates.check_user_budget``)."""


@dataclass(frozen=True)
class Settings:
    store: Path | None = None          # None: default_store_path()
    key_file: Path | None = None       # None: store.key beside the store
    store_raw: bool = False            # keep the enrolment signatures (encrypted)
    model: Path | None = None          # None: the shipped model
    backend: str | None = None
    score: str | None = None           # None: the manifest's score
    threshold: float | None = None     # None: the level's threshold (edge.operating_point)
    level: str = "balanced"            # the manifest's operating point, when no threshold is set
    force_threshold: bool = False      # a threshold outside the scores the folds saw, all the same
    enrol_count: int = 6               # what the shipped thresholds are read at (trainer.references)
    consistency_margin: float = 0.15
    enrol_retries: int = 2             # "sign again" rounds on the pad before giving up
    lockout_after: int = 5
    lockout_s: float = 300.0
    replay_cosine: float = 0.995
    replay_history: int = 200         # accepted attempts kept per user for replay checks
    adapt: bool = False                # template adaptation (edge.adaptation; docs/edge.md: why off by default)
    adapt_margin: float = 1.0          # above the threshold, in the decision score's units
    adapt_max_per_day: int = 3
    adapt_keep_enrolled: int = 2
    adapt_max_drift: float = 0.1       # cosine distance of the references' centroid from the enrolment's
    lockout: LockoutPolicy = field(init=False, repr=False, compare=False)  # from lockout_after, lockout_s
    adaptation: AdaptationPolicy = field(init=False, repr=False, compare=False)  # from the adapt_* fields

    def __post_init__(self) -> None:
        if self.score is not None and self.score not in scores.names():
            raise ConfigError(f"score {self.score!r}: choose from {', '.join(scores.names())}")
        if self.threshold is not None and self.score is not None:
            scores.check_threshold(self.score, self.threshold)  # else once the manifest names the score
        if not (isinstance(self.level, str) and self.level.isidentifier()):
            raise ConfigError(f"level {self.level!r}: a level's name (e.g. balanced, secure, convenience)")
        if not ENROL_COUNTS[0] <= self.enrol_count <= ENROL_COUNTS[1]:
            raise ConfigError(f"enrol count {self.enrol_count}: must be {ENROL_COUNTS[0]}..{ENROL_COUNTS[1]}")
        # The policy checks its own limits (ConfigError): validated there, once.
        object.__setattr__(self, "lockout", LockoutPolicy(self.lockout_after, self.lockout_s))
        object.__setattr__(self, "adaptation", AdaptationPolicy(self.adapt, self.adapt_margin,
                                                                self.adapt_max_per_day, self.adapt_keep_enrolled,
                                                                self.adapt_max_drift))
        if not 0.0 < self.replay_cosine <= 1.0 or self.replay_history < 0:
            raise ConfigError("replay cosine must be in (0, 1], history >= 0")

    def replace(self, **changes: Any) -> Self:
        """A copy with the given values; None values are ignored (option not given)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def store_path(self, service: bool = False) -> Path:
        return self.store or default_store_path(service)

    def key_path(self, service: bool = False) -> Path:
        return self.key_file or self.store_path(service).parent / "store.key"


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
