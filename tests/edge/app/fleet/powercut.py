"""Power cuts replayed from a trace of a writer's system calls, for the outbox's tests.

The writer runs under ``strace``, which records, in order, every ``pwrite64``
to its SQLite files (with the bytes), every ``fsync``/``fdatasync`` and every
line it writes to stdout ("ACK <id>": the record is committed, as far as the
caller knows; "HUB <id>": the hub acknowledged it, so the kiosk may drop it).
A power cut after event ``c`` leaves on the disk what was synced before ``c``
for each file, plus any part of what was written after that file's last
sync: nothing of it, all of it (what a kill -9 leaves), a prefix torn inside
a write, or an arbitrary subset (the page cache writes back in no set order).
A cut between two writes of one commit is a copy of the files taken mid-write.

What this cannot model: a disk that acknowledges a flush it has not made
(a volatile write cache that lies), and torn writes inside what was synced.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_CALL = re.compile(r"^(\w+)\((\d+)<([^>]*)>(.*)\) = (-?\d+)$")
_DATA = re.compile(r'^, "((?:\\x[0-9a-f]{2})*)", (\d+)(?:, (\d+))?$')
TRACED = "pwrite64,write,fsync,fdatasync,ftruncate"
VARIANTS = ("synced", "all", "torn", "subset")


def strace_usable() -> str | None:
    """None if strace can trace here; else why not (no strace, or ptrace not allowed)."""
    if shutil.which("strace") is None:
        return "strace not installed"
    r = subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True, text=True)
    return None if r.returncode == 0 else f"strace cannot trace here: {r.stderr.strip()[:200]}"


def strace_argv(log: Path) -> list[str]:
    # -xx: every byte as \xNN (paths too), -s: whole writes (an SQLite page is 4 KiB).
    return ["strace", "-o", str(log), "-xx", "-y", "-s", "1048576", "-e", f"trace={TRACED}"]


def _unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace("\\x", ""))


@dataclass(frozen=True)
class Event:
    kind: str                 # "write", "sync", "trunc"; "ack", "hub": the writer said so (stdout)
    path: str = ""
    offset: int = 0
    data: bytes = b""
    ack: str = ""


def events(log: Path, files: tuple[str, ...]) -> list[Event]:
    """The writer's writes and syncs of ``files`` (names), and its ACK lines, in order."""
    out: list[Event] = []
    for line in log.read_text().splitlines():
        m = _CALL.match(line)
        if m is None:
            continue
        call, _, path_hex, rest, ret = m.groups()
        path = _unhex(path_hex).decode(errors="replace")
        name = Path(path).name
        if call == "write" and path.startswith("pipe:"):
            d = _DATA.match(rest)
            text = _unhex(d.group(1)).decode() if d else ""
            out += [Event(said.lower(), ack=w) for said, w in re.findall(r"(ACK|HUB) (\w+)", text)]
        elif name not in files:
            continue
        elif call == "pwrite64":
            d = _DATA.match(rest)
            assert d is not None and int(ret) == len(_unhex(d.group(1))), f"a short or unparsed write: {line[:200]}"
            out.append(Event("write", path, int(d.group(3)), _unhex(d.group(1))))
        elif call in ("fsync", "fdatasync"):
            out.append(Event("sync", path))
        elif call == "ftruncate":
            out.append(Event("trunc", path, int(rest.lstrip(", "))))
    return out


def _apply(image: bytearray, e: Event, upto: int | None = None) -> None:
    if e.kind == "trunc":
        del image[e.offset:]
        return
    data = e.data if upto is None else e.data[:upto]
    if len(image) < e.offset:
        image.extend(bytes(e.offset - len(image)))
    image[e.offset:e.offset + len(data)] = data


def disk_at(trace: list[Event], cut: int, variant: str, rng: random.Random) -> dict[str, bytes]:
    """Each file's bytes on the disk after a power cut following ``trace[:cut]``."""
    durable: dict[str, bytearray] = {}
    pending: dict[str, list[Event]] = {}
    for e in trace[:cut]:
        if e.kind in ("write", "trunc"):
            durable.setdefault(e.path, bytearray())
            pending.setdefault(e.path, []).append(e)
        elif e.kind == "sync":
            for p in pending.pop(e.path, []):
                _apply(durable[e.path], p)
    for path, writes in pending.items():
        image = durable[path]
        if variant == "all":
            chosen = writes
        elif variant == "subset":
            chosen = [w for w in writes if rng.random() < 0.5]
        elif variant == "torn" and writes:
            k = rng.randrange(len(writes))
            for w in writes[:k]:
                _apply(image, w)
            if writes[k].kind == "write":
                _apply(image, writes[k], rng.randrange(len(writes[k].data) + 1))
            chosen = []
        else:
            chosen = []
        for w in chosen:
            _apply(image, w)
    return {path: bytes(image) for path, image in durable.items()}


def unsynced_at_acks(trace: list[Event], path_name: str) -> list[str]:
    """The ACKs written while ``path_name`` had writes not yet synced (none, if each commit
    is made durable before the caller is told)."""
    dirty: set[str] = set()
    late = []
    for e in trace:
        if e.kind in ("write", "trunc") and Path(e.path).name == path_name:
            dirty.add(e.path)
        elif e.kind == "sync":
            dirty.discard(e.path)
        elif e.kind == "ack" and dirty:
            late.append(e.ack)
    return late
