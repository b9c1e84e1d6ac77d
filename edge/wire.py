"""The control socket's protocol, for both ends: where it is, how it is framed, whom to trust.

``edge.client`` (the host application's side) and ``edge.app`` (the
service: ``service``, ``control``, ``runtime``, ``web``, ``sigpad status``)
take all of it from here, so the two sides cannot drift apart. It is core
(no ``edge.app`` import) because the client is, and it needs the standard
library only.

**Where.** The service listens on ``control.sock`` in its runtime directory
(``runtime_dir``: ``$RUNTIME_DIRECTORY`` under systemd, else
``$XDG_RUNTIME_DIR/sigpad``, else ``/tmp/sigpad-<uid>``) unless it is given
a socket (``--socket``, ``[service] socket``). A client without a path looks
for this user's socket, then the installed service's
(``/run/sigpad/control.sock``, the unit's ``RuntimeDirectory=sigpad``).

**Framing.** One UTF-8 JSON object per line, each way. A request may also be
words (``verify alice``, ``enrol bob replace``); ``parse_request`` reads
both. A request line is at most ``MAX_LINE`` bytes before its newline; an
answer line has no limit. Events come until one of ``FINAL_EVENTS``, the
answer to the request.

**Trust.** Each end asks the kernel who the other is (``SO_PEERCRED``,
``peer_of``). A client talks only to a service run by root, itself or the
``sigpad`` user (``check_service_peer``); the service lets only its own
user, root or its writers' group write (``may_write``). The socket's
directory must be a real directory of the service's user that nobody else
may write to (``check_private_dir``), the HTTP token a 0600 file of that
user (``check_private_file``). Over HTTP the service proves it holds the
token: HMAC-SHA256 of the client's nonce under the token (``token_proof``,
``proves_token``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pwd
import socket
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ServiceError

SERVICE_USER = "sigpad"
SOCKET_NAME = "control.sock"
INSTALLED_SOCKET = Path("/run/sigpad") / SOCKET_NAME     # the unit's RuntimeDirectory=sigpad
MAX_LINE = 4096
FINAL_EVENTS = frozenset({"decision", "enrolled", "captured", "error", "pong", "users", "deleted", "status",
                          "ok", "cleared", "cancelled", "unlocked", "history", "adaptations", "undone"})
"""The events that answer a request; the others (prompts, ink) come before the answer."""

Message = dict[str, Any]
"""A request or an answer, as JSON gives it."""


# --- where ----------------------------------------------------------------------------------

def runtime_dir() -> Path:
    """Where the service puts its socket: ``$RUNTIME_DIRECTORY`` (systemd), else
    ``$XDG_RUNTIME_DIR/sigpad``, else ``/tmp/sigpad-<uid>``."""
    if os.environ.get("RUNTIME_DIRECTORY"):
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "sigpad"
    return Path(f"/tmp/sigpad-{os.getuid()}")


def service_socket(configured: Path | None = None) -> Path:
    """Where the service listens: the configured socket, else ``control.sock`` in ``runtime_dir``."""
    return configured if configured is not None else runtime_dir() / SOCKET_NAME


def find_socket(configured: Path | None = None) -> Path:
    """Where a client finds the service: the configured socket; else this user's
    default, or the installed service's when only that one exists."""
    if configured is not None:
        return configured
    mine = service_socket()
    return INSTALLED_SOCKET if not mine.exists() and INSTALLED_SOCKET.exists() else mine


# --- framing --------------------------------------------------------------------------------

def encode(message: Mapping[str, Any] | str) -> bytes:
    """One line on the wire: a JSON object (or a request already written out) and a newline."""
    line = message if isinstance(message, str) else json.dumps(message)
    return line.encode() + b"\n"


def decode(line: bytes) -> Message:
    """An answer or event line as a dict; ``ValueError`` if it is not a JSON object."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"not a JSON object: {line[:80]!r}")
    return message


def parse_request(line: str) -> Message:
    """A request line (JSON object, or words) as a dict with ``cmd``."""
    line = line.strip()
    if line.startswith("{"):
        req = json.loads(line)
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            raise ValueError('a JSON request needs a string "cmd"')
        return req
    words = line.split()
    if not words:
        raise ValueError("empty request")
    req = {"cmd": words[0].lower()}
    if len(words) > 1:
        req["user"] = words[1]
    if len(words) > 2 and words[2] == "replace":
        req["replace"] = True
    return req


def decode_request(line: bytes) -> Message:
    """A request as it came off the socket (strict UTF-8); ``ValueError`` (or
    ``RecursionError`` for absurdly nested JSON) when it is not one."""
    return parse_request(line.decode("utf-8", errors="strict"))


def is_final(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` answers the request (rather than coming before the answer)."""
    return message.get("event") in FINAL_EVENTS


# --- whom to trust ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Peer:
    """Who is at the other end of a Unix socket, as the kernel says."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} gid {self.gid}"


def peer_of(sock: socket.socket) -> Peer:
    """The other end of a connected Unix socket (``SO_PEERCRED``)."""
    size = struct.calcsize("3i")
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
    return Peer(pid, uid, gid)


def trusted_service_uids() -> set[int]:
    """The uids a client accepts as the service: root, itself, and the ``sigpad`` user."""
    uids = {0, os.geteuid()}
    try:
        uids.add(pwd.getpwnam(SERVICE_USER).pw_uid)
    except KeyError:
        pass
    return uids


def check_service_peer(peer: Peer, where: Path, trusted: set[int] | None = None) -> None:
    """Raise ``ServiceError`` unless ``peer`` runs as one of ``trusted`` (``trusted_service_uids``)."""
    trusted = trusted_service_uids() if trusted is None else trusted
    if peer.uid not in trusted:
        raise ServiceError(f"{where}: the process behind it ({peer}) is not the sigpad "
                           f"service (trusted uids: {sorted(trusted)}); not talking to it")


def supplementary_groups(pid: int) -> set[int]:
    """The groups of a process (``/proc/PID/status``); empty when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Groups:"):
                return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


def may_write(peer: Peer, writers_gid: int | None) -> bool:
    """Whether the service lets ``peer`` write: its own user, root, or a member of the writers' group."""
    if peer.uid in (0, os.geteuid()):
        return True
    if writers_gid is None:
        return False
    return peer.gid == writers_gid or writers_gid in supplementary_groups(peer.pid)


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


def check_private_file(path: Path) -> None:
    """Raise ``ServiceError`` unless ``path`` is a regular file of this user that only it may read (0600)."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise ServiceError(f"{path}: the token file must be a regular file of this user with mode 0600 "
                           f"(it is {stat.S_IMODE(st.st_mode):04o}, uid {st.st_uid})")


def token_proof(token: str, nonce: str) -> str:
    """HMAC-SHA256(token, nonce), hex: what the service answers to a nonce."""
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def proves_token(proof: str, token: str, nonce: str) -> bool:
    """Whether ``proof`` (one proof, or the service's comma-separated proofs, one per role's token)
    holds ``token_proof(token, nonce)`` (each compared in constant time)."""
    expected = token_proof(token, nonce)
    given = [p.strip() for p in proof.split(",")] if proof.isascii() else []
    return any([hmac.compare_digest(p, expected) for p in given])


def same_token(given: str | None, token: str) -> bool:
    """Whether a request carries the token (compared in constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), token.encode())
