"""``sigpad fleet rotate-key``: every record re-sealed under a new fleet key.

Run at a kiosk with the enrolment role after a kiosk is lost: remove the
lost kiosk's user from hub.conf (reload the hub), rotate, and give the new
key file to the kiosks that stay (``sigpad fleet join URL --creds FILE --key
NEW``). Each record is replaced by a compare-and-set on the revision read,
so an enrolment made meanwhile is not overwritten (it is reported, and a
second run re-seals it). Records sealed with the old key are gone from the
bucket; a kiosk holding only the old key opens none of the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import FleetError
from .sealing import FleetKeys, open_sealed, seal
from .subjects import KV_PREFIX, KV_STREAM, key_user

if TYPE_CHECKING:
    from .link import Link


@dataclass
class Rotation:
    key_id: str
    resealed: int = 0
    changed_meanwhile: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def reseal_all(link: Link, keys: FleetKeys) -> Rotation:
    """Re-seal every live record under ``keys.current`` (``keys`` also holds the old ones)."""
    rotation = Rotation(keys.current)
    async for seen in link.read(KV_STREAM, KV_PREFIX + ">", 0):
        if seen.op:
            continue                                 # a tombstone stays one
        user = key_user(seen.subject.removeprefix(KV_PREFIX))
        try:
            plain = open_sealed(keys, user, seen.data)
        except FleetError:
            rotation.unreadable.append(user)
            continue
        if await link.put(user, seal(keys, user, plain["model_sha"], plain), seen.seq) is None:
            rotation.changed_meanwhile.append(user)
        else:
            rotation.resealed += 1
    return rotation
