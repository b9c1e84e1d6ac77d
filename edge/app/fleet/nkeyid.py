"""A kiosk's identity at the hub: an nkey (Ed25519) user seed, its public key in hub.conf.

``sigpad fleet init`` makes one seed per kiosk (``new_identity``); the seed
goes into that kiosk's credentials file only, the public key (``U...``) into
``hub.conf``. The hub sends a nonce with its INFO, the kiosk signs it with
the seed (nats-py does this, given ``nkeys_seed_str``): no secret crosses
the network and the hub holds none, so whoever runs the hub cannot act as a
kiosk elsewhere. ``join`` keeps the seed in its own 0600 file beside
``fleet.json`` (``SEED_FILE``), which ``read_seed`` checks before each link.

``nkeys`` (with nats-py, the ``fleet`` extra) is imported when a seed is made
or checked, so a kiosk without the extra still imports this module.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ...errors import FleetError

SEED_FILE = "kiosk.nk"


def _nkeys() -> Any:
    try:
        import nkeys  # type: ignore[import-untyped]  # no stubs shipped; used through Any
    except ImportError as exc:
        raise FleetError(f"the fleet needs nkeys ({exc}): pip install 'sigpad[fleet]'") from None
    return nkeys


def new_identity() -> tuple[str, str]:
    """(seed ``SU...``, public key ``U...``) of a new nkey user."""
    nkeys = _nkeys()
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()
    return seed, public_key(seed, "a new seed")


def public_key(seed: str, where: str) -> str:
    """The public key of ``seed``; ``FleetError`` naming ``where`` unless it is a well-formed
    user seed. nkeys' decoder does not check the seed's CRC, so a seed with a changed
    character would pass as another key: re-encoding it must give back the same text."""
    nkeys = _nkeys()
    text = seed.strip()
    try:
        prefix, raw = nkeys.decode_seed(bytearray(text.encode()))
        same = nkeys.encode_seed(bytes(raw), prefix).decode() == text
    except (nkeys.NkeysError, ValueError, IndexError, UnicodeError) as exc:
        raise FleetError(f"{where}: not an nkey seed ({type(exc).__name__}); "
                         "use the credentials file from `sigpad fleet init`") from None
    if prefix != nkeys.PREFIX_BYTE_USER or not same:
        raise FleetError(f"{where}: not an nkey user seed (wrong kind or damaged: its checksum fails); "
                         "use the credentials file from `sigpad fleet init`")
    return str(nkeys.from_seed(bytearray(text.encode())).public_key.decode())


def write_seed(directory: Path, seed: str) -> Path:
    from .sealing import write_private_bytes
    path = directory / SEED_FILE
    write_private_bytes(path, seed.strip().encode() + b"\n")
    return path


def read_seed(directory: Path, expected: str | None = None) -> str:
    """The kiosk's seed from ``directory/kiosk.nk`` (0600, checked; with ``expected``, its
    public key must be that one, fleet.json's); ``FleetError`` naming the file."""
    path = directory / SEED_FILE
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FleetError(f"{path}: the kiosk's nkey seed has mode {stat.S_IMODE(mode):04o}; chmod 600 {path}")
        text = path.read_text()
    except FileNotFoundError:
        raise FleetError(f"{path}: no nkey seed (`sigpad fleet join URL --creds FILE` writes it; "
                         "a kiosk joined with a password before nkeys must join again)") from None
    except (OSError, UnicodeError) as exc:
        raise FleetError(f"{path}: cannot read the kiosk's nkey seed: {exc}") from None
    key = public_key(text, str(path))
    if expected is not None and key != expected:
        raise FleetError(f"{path}: this seed is the key {key[:8]}..., fleet.json names {expected[:8]}...: "
                         "the kiosk.nk of another kiosk? join again with this kiosk's credentials file")
    return text.strip()
