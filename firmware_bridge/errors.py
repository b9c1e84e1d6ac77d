"""The bridge's exceptions, and ``SigpadError``, the base of every sigpad error.

Each type derives from ``SigpadError`` *and* from the built-in it refines, so
callers can catch ``ValueError`` or ``OSError`` as they would anywhere else, or
``SigpadError`` to catch everything of ours. The base lives in the lowest
layer (``firmware_bridge``) so that ``edge`` and ``trainer`` derive from it
without breaking the dependency rule; the edge's own errors (model, store,
enrolment, settings) are in ``edge/errors.py``.

A rejected signature is *not* an exception: the edge returns a ``Decision``.
Exceptions are for inputs and states that make a decision impossible.
"""

from __future__ import annotations


class SigpadError(Exception):
    """Base of every sigpad error."""


# --- signals and files ------------------------------------------------------

class SignatureError(SigpadError, ValueError):
    """A signature that cannot be used: too few points, non-finite, flat, absurd."""


class SynthesisError(SigpadError, ValueError):
    """Sigma-lognormal or synthetic-writer parameters that cannot make a signature."""


class DataFormatError(SigpadError, ValueError):
    """A file or row that does not follow its format. Names the file and line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class NoSuchFile(DataFormatError, FileNotFoundError):
    """A signature file that is not there (a typo, not a bad signature)."""


# --- the serial line ----------------------------------------------------------

class ProtocolError(SigpadError, ValueError):
    """Bytes that do not decode under the pad's protocol."""


class FrameError(ProtocolError):
    """A frame that is damaged: bad COBS, bad CRC, wrong length."""


class TransportError(SigpadError, OSError):
    """The serial port cannot be opened, read or written."""


class PadDisconnected(TransportError, ConnectionError):
    """The pad went away (unplugged, port closed) in the middle of something."""


class PortBusy(TransportError):
    """Another process holds the serial port (ports are opened exclusively).

    ``pids``: the processes seen holding it (empty when they cannot be seen,
    e.g. another user's process without the rights to look).
    """

    def __init__(self, message: str, pids: tuple[int, ...] = ()):
        super().__init__(message)
        self.pids = tuple(pids)


class CaptureError(SigpadError, RuntimeError):
    """A signature could not be captured: too short, too long, broken off."""


class PadSilent(CaptureError):
    """Nothing at all came from the pad while a signature was awaited."""


class PadGarbled(CaptureError):
    """Bytes came from the pad but none decoded: a wrong protocol or baud rate."""
