"""The store's authenticated state: who is enrolled, counters, lockout, replay history.

Templates were always sealed (``edge.store``); the rows that say how many
times a user failed, until when they are locked out and which attempts came
before were not, so anyone who could write the database file could undo a
lockout or erase the attempts a replay is compared with. This module seals
them under the store key, in three links:

* each **attempt row** is AES-GCM sealed with associated data binding the
  user, the model, its sequence number (per user, never reused), time,
  verdict, kind and stream MAC: a row edited or moved to another number
  fails authentication;
* each **user row** carries a tag (AES-GCM over no plaintext: a GMAC) of its
  failures, lock, generation, next sequence number and the set of attempt
  numbers kept: a row deleted, added or restored from an older copy, or a
  counter edited, fails;
* the **ledger** (one sealed record in ``meta``) lists every user with the
  generation of their last change, the store's generation (one more on every
  change) and the manifest each model was enrolled with (``edge.manifest``):
  a user's rows restored together from an older copy, or a user removed,
  fails.

An **anchor** file beside the database (``<store>.gen``) holds the latest
generation with an HMAC under the key, written after each commit: a whole
database restored from an older copy is behind it and is refused as rolled
back. The anchor can only lag (a crash between commit and write), never
lead, so it never refuses an honest store; a damaged one is named and
rewritten from the sealed ledger (``repair_anchor`` in ``edge.store_file``,
``sigpad repair-anchor``). Its limit, and the key's: docs/edge.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import DamagedAnchor, StoreError, TemplateIntegrityError

NONCE = 12
ROLLBACK_HELP = ("if this store was restored from a backup on purpose, accept it with "
                 "`sigpad repair-anchor --accept-rollback` (or remove {anchor}); otherwise the store was "
                 "rolled back")
ANCHOR_HELP = "run `sigpad repair-anchor` to rewrite it from the store's sealed ledger (it needs the key)"


def ad(*parts: object) -> bytes:
    """Associated data: the parts, in order, under the store's own prefix."""
    return "\x00".join(("sigpad/1",) + tuple(str(p) for p in parts)).encode()


class Sealer:
    """AES-GCM under the store key: seal/open a value, tag/check a row."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, data: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plain, data)

    def open(self, sealed: bytes | None, data: bytes, what: str) -> bytes:
        try:
            if sealed is None:   # a NULL column (a tag never written)
                raise ValueError("nothing sealed")
            return self._aead.decrypt(bytes(sealed[:NONCE]), bytes(sealed[NONCE:]), data)
        except (InvalidTag, ValueError, TypeError):
            raise TemplateIntegrityError(f"{what} fails authentication: the row was altered, "
                                         f"moved or restored from an older copy") from None

    def opens(self, sealed: bytes, data: bytes) -> bool:
        """Whether ``sealed`` authenticates under this key (the key check)."""
        try:
            self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], data)
            return True
        except InvalidTag:
            return False

    def tag(self, data: bytes) -> bytes:
        return self.seal(b"", data)

    def check(self, tag: bytes | None, data: bytes, what: str) -> None:
        self.open(tag, data, what)


# --- user rows ----------------------------------------------------------------------------

def seqs_digest(seqs: Iterable[int]) -> str:
    """The set of attempt numbers a user row vouches for."""
    return hashlib.sha256(",".join(str(int(s)) for s in sorted(seqs)).encode()).hexdigest()


def user_state_ad(user: str, model_sha: str, failures: int, locked_until: float, generation: int,
                  next_seq: int, seqs: Iterable[int], profile_digest: str | None = None) -> bytes:
    """What a user row's tag covers. ``profile_digest``: the sealed profile's, once
    template adaptation has changed it (``store_schema.adapted_profile_digest``)."""
    extra = () if profile_digest is None else (profile_digest,)
    return ad("user-state", user, model_sha, int(failures), repr(float(locked_until)), int(generation),
              int(next_seq), seqs_digest(seqs), *extra)


def attempt_ad(user: str, model_sha: str, seq: int, at: float, accepted: bool, kind: str,
               stream_mac: bytes) -> bytes:
    return ad("attempt", user, model_sha, int(seq), repr(float(at)), int(bool(accepted)), kind,
              bytes(stream_mac).hex())


# --- the ledger -----------------------------------------------------------------------

@dataclass
class Ledger:
    """The store's sealed head: its generation, each user's, each model's manifest."""

    generation: int = 0
    users: dict[str, int] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)   # manifest.binding's

    def to_bytes(self) -> bytes:
        return json.dumps({"generation": self.generation, "users": self.users, "models": self.models},
                          sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Ledger:
        d = json.loads(data)   # authenticated: our own JSON
        return cls(int(d["generation"]), {k: int(v) for k, v in d["users"].items()}, d["models"])

    def advance(self, user: str | None = None) -> int:
        """One change more; ``user``'s rows changed with it. Returns the new generation."""
        self.generation += 1
        if user is not None:
            self.users[user] = self.generation
        return self.generation

    def check_user(self, user: str, generation: int | None) -> None:
        """``user``'s row (generation, or None when absent) is the one the ledger lists."""
        listed = self.users.get(user)
        if listed == generation:
            return
        if generation is None:
            raise TemplateIntegrityError(f"{user!r} is enrolled but their rows were removed")
        if listed is None:
            raise TemplateIntegrityError(f"rows of {user!r} were added outside sigpad")
        raise TemplateIntegrityError(f"the rows of {user!r} are from generation {generation}, the store "
                                     f"is at {listed} for them: restored from an older copy")


LEDGER_KEY = "ledger"


def read_ledger(db: sqlite3.Connection, sealer: Sealer) -> Ledger:
    row = db.execute("SELECT value FROM meta WHERE key=?", (LEDGER_KEY,)).fetchone()
    if row is None:
        raise TemplateIntegrityError("the store's ledger is missing: the meta table was altered")
    return Ledger.from_bytes(sealer.open(row["value"], ad("ledger"), "the store's ledger"))


def write_ledger(db: sqlite3.Connection, sealer: Sealer, ledger: Ledger) -> None:
    db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (LEDGER_KEY, sealer.seal(ledger.to_bytes(), ad("ledger"))))


# --- the anchor --------------------------------------------------------------------------

@dataclass(frozen=True)
class AnchorReading:
    """What the anchor says: a ``generation`` (0: no anchor), whether it is
    ``authentic`` (written under the key; False: none, or the older plain
    format), and whether it is ``damaged`` (there, but not ours: reported by
    ``Anchor.check``, once the key itself has been checked)."""

    generation: int = 0
    authentic: bool = False
    damaged: bool = False


class Anchor:
    """``<store>.gen``: the newest generation committed, outside the database file.

    Written in place after each commit (the commit itself is FULL-synced
    first, the anchor is not), so after a crash it can only lag behind the
    database, never lead. A missing anchor counts as 0: that is what removing
    it means (accepting a store restored on purpose). The generation is
    written with an HMAC under the store's key, so a damaged anchor (a torn
    write, a number typed into it) is told from a rollback: it is named
    (``DamagedAnchor``) and ``repair`` rewrites it from the sealed ledger. An
    anchor in the plain format of before (20 digits) is read as it was and
    rewritten with its HMAC at the next commit; one ahead of the store cannot
    say whether it was damaged or the store rolled back, and says both.
    """

    WIDTH = 20
    _PLAIN = WIDTH + 1                     # the format before: digits and a newline
    _SIZE = WIDTH + 1 + 64 + 1             # digits, a space, the HMAC in hex, a newline

    def __init__(self, store_path: Path, key: bytes):
        self.store_path = Path(store_path)
        self.path = Path(str(store_path) + ".gen")
        self._key = key

    def _record(self, generation: int) -> bytes:
        digits = f"{generation:0{self.WIDTH}d}"
        mac = hmac.new(self._key, b"sigpad-anchor/1\x00" + digits.encode(), hashlib.sha256).hexdigest()
        return f"{digits} {mac}\n".encode()

    @classmethod
    def plain_record(cls, generation: int) -> bytes:
        """``generation`` in the older keyless format: read as before, sealed at the next commit
        (a restore that has no key in place yet writes it)."""
        return f"{generation:0{cls.WIDTH}d}\n".encode()

    @classmethod
    def unverified_generation(cls, store_path: Path) -> int:
        """The generation the anchor beside ``store_path`` says, read without the key (0: none,
        or no number there): for a guard against an operator's mistake, never for the store's
        own check, which verifies the HMAC."""
        try:
            digits = Path(f"{store_path}.gen").read_bytes()[:cls.WIDTH]
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StoreError(f"{store_path}.gen: cannot read the anchor: {exc.strerror or exc}") from exc
        return int(digits) if digits.isdigit() else 0

    def read(self) -> AnchorReading:
        """The generation recorded (``damaged`` when the file is there but not ours)."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return AnchorReading()
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        if len(text) == self._PLAIN and text[:-1].isdigit() and text.endswith(b"\n"):
            return AnchorReading(int(text[:-1]), authentic=False)
        digits = text[:self.WIDTH]
        if len(text) == self._SIZE and digits.isdigit() and hmac.compare_digest(text, self._record(int(digits))):
            return AnchorReading(int(digits), authentic=True)
        return AnchorReading(damaged=True)

    def check(self, ledger: Ledger, recorded: AnchorReading) -> None:
        """The database is not behind ``recorded``, the anchor as read before the
        transaction that read ``ledger`` began (``Store._tx`` says why before)."""
        if recorded.damaged:
            raise DamagedAnchor(f"{self.path}: the store's anchor is damaged (not a generation written with "
                                f"this store's key); {ANCHOR_HELP}")
        if ledger.generation >= recorded.generation:
            return
        if not recorded.authentic:
            raise DamagedAnchor(
                f"{self.path}: the anchor (the older format, without the key's HMAC) says generation "
                f"{recorded.generation}, the store is at {ledger.generation}: the anchor was damaged or the "
                f"store rolled back. If damaged, {ANCHOR_HELP}; " + ROLLBACK_HELP.format(anchor=self.path))
        raise TemplateIntegrityError(
            f"the store is at generation {ledger.generation}, older than the {recorded.generation} it reached: "
            + ROLLBACK_HELP.format(anchor=self.path))

    def advance(self, generation: int) -> None:
        """Record ``generation`` if it is newer, or if the anchor is not yet written with the key."""
        now = self.read()        # damaged since this transaction began: its commit is the truth
        if now.authentic and generation <= now.generation:
            return
        self.write(generation)

    def write(self, generation: int) -> None:
        """Write ``generation`` with its HMAC (one fixed-size write in place)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                if os.geteuid() == 0:   # `sudo sigpad ...`: the store owner's still, the service reads it
                    owner = os.stat(self.store_path)
                    os.fchown(fd, owner.st_uid, owner.st_gid)
                os.pwrite(fd, self._record(generation), 0)
                os.ftruncate(fd, self._SIZE)        # a longer damaged file loses its tail
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot record the store's generation: "
                             f"{exc.strerror or exc}") from exc
