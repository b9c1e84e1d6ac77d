"""A serial port as the byte layer sees it: who holds it, whether we may open it, why an open failed.

``Transport.open`` turns a failed open into ``open_error``'s message, which
says why and what to do; ``ports`` (``sigpad ports``) lists ports with the
same facts.

* **Who holds a port.** sigpad opens ports exclusively (``flock``, pyserial's
  ``exclusive=True``): a second reader would take half of the bytes and
  leave both with broken signatures. ``/proc/locks`` names the process that
  holds the lock (readable by everyone); ``/proc/PID/fd`` names processes
  that merely have the port open (only the caller's own, unless root).
* **Whether this user may open it.** Serial ports belong to a group
  (``dialout`` on Debian, and the udev rule gives ``/dev/sigpad`` to it): the
  fix for "permission denied" is membership, and a new member must log in
  again before it counts.

Part of the byte layer: no decoder is imported here (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import PortBusy, TransportError

PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    """A process that has a port open; ``lock``: it holds the exclusive lock."""

    pid: int
    command: str
    lock: bool


# --- who holds a port ---------------------------------------------------------------

def holders(path: str, proc: Path = PROC) -> tuple[Holder, ...]:
    """Other processes that lock or have open the device ``path`` resolves to."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    lockers = set(_lockers(st, proc))
    openers = set(_openers(os.path.realpath(path), proc))
    pids = sorted((lockers | openers) - {os.getpid()})
    return tuple(Holder(pid, _command(pid, proc), pid in lockers) for pid in pids)


def _lockers(st: os.stat_result, proc: Path) -> Iterator[int]:
    """PIDs holding a flock on the inode of ``st`` (lines like ``1: FLOCK ADVISORY WRITE 812 00:1a:3 0 EOF``)."""
    try:
        lines = (proc / "locks").read_text().splitlines()
    except OSError:
        return
    me = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == me:
            yield int(fields[4])


def _openers(real: str, proc: Path) -> Iterator[int]:
    for entry in proc.glob("[0-9]*/fd/*"):
        try:
            if os.readlink(entry) == real:
                yield int(entry.parts[-3])
        except (OSError, ValueError):
            continue  # gone meanwhile, or another user's process


def _command(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    # The program by its name, not its path: where a venv lives says nothing,
    # and a long path would push what runs out of the 80 characters shown.
    argv = raw.decode(errors="replace").split("\0")
    text = " ".join([os.path.basename(argv[0]), *argv[1:]]).strip()
    return text if len(text) <= 80 else text[:77] + "..."


def describe_holders(found: tuple[Holder, ...]) -> str:
    if not found:
        return "another process (one this user cannot see: is the sigpad service running?)"
    return ", ".join(f"PID {h.pid}" + (f" ({h.command})" if h.command else "") for h in found)


# --- whether this user may open it -----------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """Who is asking: effective uid, the groups this session has, the login name."""

    uid: int
    gids: frozenset[int]
    name: str

    @classmethod
    def current(cls) -> Identity:
        uid = os.geteuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return cls(uid, frozenset(os.getgroups()) | {os.getegid()}, name)


def access_fix(st: os.stat_result, me: Identity,
               group_members: Collection[str] | None = None) -> tuple[bool, str | None, str | None]:
    """(may open read-write, the port's group, the fix when not) from the port's mode and owner.

    ``group_members``: the group's members in /etc/group (looked up when None):
    a user listed there whose session lacks the group was added after logging in.
    """
    group = _group_name(st.st_gid)
    mode = st.st_mode
    if me.uid == 0:
        return True, group, None
    if st.st_uid == me.uid:
        ok = mode & 0o600 == 0o600
    elif st.st_gid in me.gids:
        ok = mode & 0o060 == 0o060
    else:
        ok = mode & 0o006 == 0o006
    if ok:
        return True, group, None
    if st.st_gid in me.gids or group is None:
        return False, group, f"the port's mode ({mode & 0o777:03o}) lets no one in group {group} read and write it"
    members = _members(group) if group_members is None else group_members
    if me.name in members:
        return False, group, (f"{me.name} was added to group {group} after this session began: "
                              f"log out and in again (or run `newgrp {group}`)")
    return False, group, f"add {me.name} to group {group}: sudo usermod -aG {group} {me.name}, then log in again"


def _group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _members(group: str) -> list[str]:
    try:
        return list(grp.getgrnam(group).gr_mem)
    except KeyError:
        return []


# --- a failed open, explained -----------------------------------------------------------

def open_error(port: str, exc: BaseException) -> TransportError:
    """The error to raise when opening ``port`` failed with ``exc``: says why and what to do."""
    code = getattr(exc, "errno", None)
    if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in str(exc):
        found = holders(port)
        found = tuple(h for h in found if h.lock) or found
        return PortBusy(f"{port} is in use by {describe_holders(found)}: a pad has one reader "
                        "(a second one would split its stream); stop that one first, e.g. "
                        "`sudo systemctl stop sigpad`, or ask the running service over its socket",
                        tuple(h.pid for h in found))
    if code == errno.EACCES:
        try:
            _, _, fix = access_fix(os.stat(port), Identity.current())
        except OSError:
            fix = None
        return TransportError(f"cannot open {port}: permission denied" + (f"; {fix}" if fix else ""))
    if code == errno.ENOENT:
        return TransportError(f"cannot open {port}: no such port (`sigpad ports` lists this machine's)")
    return TransportError(f"cannot open {port}: {exc}")
