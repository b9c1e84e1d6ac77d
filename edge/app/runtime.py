"""Where the service lives and whom it trusts: socket directory, lock, peers, token.

* **The socket directory** is ``$RUNTIME_DIRECTORY`` (systemd makes it),
  else ``$XDG_RUNTIME_DIR/sigpad``, else ``/tmp/sigpad-<uid>``. Whichever it
  is, it is created 0700 if missing and then checked: a real directory (not
  a symlink), owned by the service's user, writable by nobody else. A
  directory someone else made or can write to (a squatter who wants to put
  their own socket in our place) makes the service refuse to start.
* **One instance**: ``sigpad.lock`` in that directory is held with
  ``flock`` for the life of the service; a second ``sigpad serve`` fails at
  once, naming the lock, instead of taking over the socket.
* **Peers** on the Unix socket are known by ``SO_PEERCRED`` (pid, uid, gid,
  from the kernel): each connection is logged with them, and writes (enrol,
  delete, unlock, threshold) are allowed only to the service's own user,
  root, or members of ``[service] writers_group``. A client checks the
  service the same way (``edge.client``): the peer of the socket must be
  root, the client's own user, or the ``sigpad`` user.
* **The HTTP tokens**, one per role (``credentials``: ``http.token`` for
  the integrator, ``operator.token``, ``kiosk.token``), are 32 random bytes
  (hex) each in a 0600 file beside the socket, made when the service finds
  none (under systemd the runtime directory, and so each token, is new at
  each start).

The rules both sides share (where the socket is, the peer and the
owner/mode checks, the token's proof) are ``edge.wire``'s; this module is
what only the service does with them: make the directory, hold the lock,
make the token.
"""

from __future__ import annotations

import fcntl
import grp
import os
import secrets
from pathlib import Path

from ..errors import ServiceError
from ..wire import check_private_dir, check_private_file
from .credentials import INTEGRATOR, TOKEN_FILES


def secure_dir(path: Path) -> Path:
    """Create ``path`` 0700 if missing, then refuse it unless it is ours alone (``wire.check_private_dir``)."""
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ServiceError(f"{path}: cannot create the service directory: {exc.strerror or exc}") from exc
    check_private_dir(path)
    return path


class InstanceLock:
    """``flock`` on a file for as long as the service runs; a second holder is refused."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise ServiceError(f"another sigpad serve is running (it holds {path}); "
                               "stop it first, or give this one another --socket") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)      # closing drops the flock
            self._fd = -1


def group_id(name: str | None) -> int | None:
    """The gid of ``[service] writers_group`` (None when unset); ``ServiceError`` for no such group."""
    if not name:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ServiceError(f"[service] writers_group {name!r}: no such group") from None


# --- the HTTP token -------------------------------------------------------------------

def load_token(path: Path) -> str:
    """The token in ``path`` (0600, ours), created with 32 random bytes if missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ServiceError(f"{path}: cannot create the token file: {exc.strerror or exc}") from exc
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    check_private_file(path)
    token = path.read_text().strip()
    if len(token) < 32:
        raise ServiceError(f"{path}: the token is too short ({len(token)} characters, 32 at least)")
    return token


def load_tokens(directory: Path, integrator_file: Path | None = None) -> dict[str, str]:
    """Each role's token (``credentials.TOKEN_FILES`` in ``directory``), made where missing;
    ``integrator_file`` (``[service] token_file``) in place of ``http.token``."""
    tokens = {role: load_token(integrator_file if role == INTEGRATOR and integrator_file else directory / name)
              for role, name in TOKEN_FILES.items()}
    if len(set(tokens.values())) != len(tokens):
        raise ServiceError(f"{directory}: two roles share one token; delete the token files and restart")
    return tokens
