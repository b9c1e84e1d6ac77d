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
* **The HTTP token** is 32 random bytes (hex) in a 0600 file beside the
  socket, made when the service finds none (under systemd the runtime
  directory, and so the token, is new at each start); HTTP writes carry it.
"""

from __future__ import annotations

import fcntl
import grp
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from ..client import Peer, peer_of, runtime_dir, token_proof, trusted_service_uids  # noqa: F401  (shared with clients)
from ..errors import ServiceError

log = logging.getLogger("sigpad.service")
def secure_dir(path: Path) -> Path:
    """Create ``path`` 0700 if missing, then refuse it unless it is ours alone."""
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ServiceError(f"{path}: cannot create the service directory: {exc.strerror or exc}") from exc
    check_private_dir(path)
    return path


def check_private_dir(path: Path, owner: int | None = None) -> None:
    """Raise ``ServiceError`` unless ``path`` is a real directory owned by ``owner``
    (default: this process's user) that no one else may write to."""
    owner = os.geteuid() if owner is None else owner
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise ServiceError(f"{path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ServiceError(f"{path}: not a directory (a symlink or a file is refused)")
    if st.st_uid != owner:
        raise ServiceError(f"{path}: owned by uid {st.st_uid}, not by this service's uid {owner}; "
                           "someone else made it - refusing to put the control socket there")
    if st.st_mode & 0o022:
        raise ServiceError(f"{path}: mode {stat.S_IMODE(st.st_mode):04o} lets others write to it; "
                           "refusing to put the control socket there (chmod 700, or remove it)")


class InstanceLock:
    """``flock`` on a file for as long as the service runs; a second holder is refused."""

    def __init__(self, path: Path):
        self.path = path
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


def supplementary_groups(pid: int) -> set[int]:
    """The groups of a process (``/proc/PID/status``); empty when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Groups:"):
                return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


def group_id(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ServiceError(f"[service] writers_group {name!r}: no such group") from None


def may_write(peer: Peer, writers_gid: int | None) -> bool:
    """The service's user, root, or a member of the writers' group."""
    if peer.uid in (0, os.geteuid()):
        return True
    if writers_gid is None:
        return False
    return peer.gid == writers_gid or writers_gid in supplementary_groups(peer.pid)


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
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise ServiceError(f"{path}: the token file must be a regular file of this user with mode 0600 "
                           f"(it is {stat.S_IMODE(st.st_mode):04o}, uid {st.st_uid})")
    token = path.read_text().strip()
    if len(token) < 32:
        raise ServiceError(f"{path}: the token is too short ({len(token)} characters, 32 at least)")
    return token


def same_token(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())
