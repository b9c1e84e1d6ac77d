"""The edge's exceptions: the model, the store, enrolment and settings.

Each derives from ``firmware_bridge.errors.SigpadError`` (the one base of
every sigpad error, so ``except SigpadError`` still catches them all) *and*
from the built-in it refines. The bridge's own errors (signatures, files,
the serial line) stay in ``firmware_bridge/errors.py``; the trainer uses
``ConfigError`` for its command-line options too.

A rejected signature is *not* an exception: the edge returns a ``Decision``.
Exceptions are for inputs and states that make a decision impossible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from firmware_bridge.errors import SigpadError

# --- the model ----------------------------------------------------------------

class BackendUnavailable(SigpadError, ImportError):
    """No usable TFLite interpreter is installed."""


class ModelError(SigpadError, RuntimeError):
    """The model file is missing, corrupt or does not run."""


class ManifestMismatch(ModelError, ValueError):
    """The model and its manifest (or the preprocessing) disagree."""


# --- the store ------------------------------------------------------------------

class StoreError(SigpadError, RuntimeError):
    """The template store cannot be read or written."""


class TemplateIntegrityError(StoreError, ValueError):
    """A stored template fails authentication: tampered row or wrong key."""


class BackupError(StoreError):
    """A backup that cannot be made, read or restored: damaged, the wrong passphrase, a
    restore over a live store, or one that would roll the store back (``--force``)."""


class DamagedUserRows(TemplateIntegrityError):
    """One user's rows fail authentication or cannot be read. Only that user is
    affected; the message names the way out (``way_out``): re-enrol them, or
    restore the store from a backup."""

    def __init__(self, user: str, why: str):
        self.user, self.why = user, why
        super().__init__(f"{why} - {self.way_out(user)}")

    @staticmethod
    def way_out(user: str) -> str:
        return (f"only {user!r} is affected: re-enrol them (sigpad enroll {user} --replace ...) "
                "or restore the store from a backup")


class DamagedAnchor(TemplateIntegrityError):
    """The store's anchor file (``<store>.gen``) is unreadable, or fails
    authentication under the key: ``sigpad repair-anchor`` rewrites it from the
    store's sealed ledger."""


class StoreMissing(StoreError, FileNotFoundError):
    """No store where one was to be read: only enrolment (or ``sigpad init``) creates one."""


class ReenrolmentNeeded(StoreError):
    """The user's templates were made with another model and must be renewed."""


class WrongPadKind(ReenrolmentNeeded):
    """The user enrolled on a pad with pressure and signs on one without (or the reverse):
    the templates belong to the other kind's model."""


class UnknownUser(StoreError, KeyError):
    """No templates are enrolled for this user."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown user"


# --- enrolment and settings -------------------------------------------------------

class EnrolmentError(SigpadError, ValueError):
    """Enrolment signatures are too few or too inconsistent; sign again.

    ``outliers``: the signatures (0-based) to sign again; empty when signing
    again would not help (too few given, already enrolled).
    """

    def __init__(self, message: str, outliers: Iterable[int] = ()):
        super().__init__(message)
        self.outliers = tuple(outliers)


class AlreadyEnrolled(EnrolmentError):
    """The user is enrolled and ``replace`` was not asked for."""


class ConfigError(SigpadError, ValueError):
    """A configuration file or option is invalid."""


# --- the service ----------------------------------------------------------------------

class ServiceError(SigpadError, OSError):
    """The service cannot start safely: a squatted socket directory, a second
    instance, a port already taken, a token file with the wrong mode."""


class ApiError(SigpadError, RuntimeError):
    """The service answered a client's request with an error (``status``: the HTTP status)."""

    def __init__(self, message: str, status: int = 0, answer: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.answer = status, answer or {}


class FleetError(SigpadError, ConnectionError):
    """The fleet (docs/fleet.md): no hub, wrong credentials or key, a record that does not open."""
