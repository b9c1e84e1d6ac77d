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

from collections.abc import AsyncIterator
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


async def live_records(link: Link, keys: FleetKeys,
                       unreadable: list[str]) -> AsyncIterator[tuple[str, dict[str, Any], int]]:
    """Every live record of the bucket, opened: (user, record, revision read); a tombstone
    is skipped (it stays one), a record ``keys`` cannot open is named in ``unreadable``."""
    async for seen in link.read(KV_STREAM, KV_PREFIX + ">", 0):
        if seen.op:
            continue
        user = key_user(seen.subject.removeprefix(KV_PREFIX))
        try:
            yield user, open_sealed(keys, user, seen.data), seen.seq
        except FleetError:
            unreadable.append(user)


async def put_back(link: Link, keys: FleetKeys, user: str, record: dict[str, Any], revision: int) -> bool:
    """Seal ``record`` under the current key and put it if the user's record is still at
    ``revision`` (compare-and-set); False: it changed meanwhile and was left as it is."""
    return await link.put(user, seal(keys, user, record["model_sha"], record), revision) is not None


async def reseal_all(link: Link, keys: FleetKeys) -> Rotation:
    """Re-seal every live record under ``keys.current`` (``keys`` also holds the old ones)."""
    rotation = Rotation(keys.current)
    async for user, plain, revision in live_records(link, keys, rotation.unreadable):
        if await put_back(link, keys, user, plain, revision):
            rotation.resealed += 1
        else:
            rotation.changed_meanwhile.append(user)
    return rotation
