"""``sigpad fleet rederive``: every user's templates made again under a new model, from
the enrolment signatures sealed in the fleet record, so nobody signs five times again.

Runs at one kiosk with the enrolment and models roles, with the new model
(``--model``): each live record is opened with the fleet key, its
signatures embedded and checked as an enrolment is (``Verifier.check_enrolment``),
and the new record (new model sha, templates, statistics, a new enrolment
id) replaces the old one by compare-and-set on the revision read. Kiosks
apply it like any enrolment; a kiosk still on the old model refuses those
users with ``reenrolment-needed`` until it switches (``fetch-model``).
A record without signatures (enrolled before they were kept) is reported:
that user must enrol again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firmware_bridge import svc2004
from firmware_bridge.errors import SigpadError

from ...errors import EnrolmentError
from ...settings import ENROL_COUNTS
from ...templates import references_that_fit
from ...verifier import Verifier
from .rotate import live_records, put_back
from .sealing import FleetKeys, b64

if TYPE_CHECKING:
    from .link import Link


@dataclass
class Rederived:
    model_sha: str
    rederived: int = 0
    current: int = 0
    seconds: float = 0.0
    without_signatures: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    changed_meanwhile: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        per_user = self.seconds / self.rederived if self.rederived else None
        return {**self.__dict__, "seconds_per_user": None if per_user is None else round(per_user, 4)}


def rederived_record(verifier: Verifier, plain: dict[str, Any]) -> dict[str, Any]:
    """``plain``'s enrolment made again with ``verifier``'s model (raises ``SigpadError``)."""
    sigs = [svc2004.parse(text, f"{plain['user']} #{i + 1}") for i, text in enumerate(plain["signatures"])]
    # Made again as it was made (a user enrolled with 5, the default before 6, keeps 5), from as
    # many as the new model's references fit in a user's 4 KB: they may be larger than the old's.
    kept = sigs[:references_that_fit(verifier.dim, verifier.layout.extra_bytes)]
    if len(kept) < ENROL_COUNTS[0]:
        raise EnrolmentError(f"{len(kept)} of the {len(sigs)} kept signatures usable under this model: "
                             f"an enrolment needs at least {ENROL_COUNTS[0]}; re-enrol this user")
    result = verifier.check_enrolment(kept, count=min(len(kept), verifier.config.enrol_count))
    return {**plain, "model_sha": verifier.model_sha, "templates": [b64(t) for t in result.templates],
            "stream_macs": [b64(m) for m in result.stream_macs], "stats": result.stats,
            "binding": verifier.binding, "enrol_id": uuid.uuid4().hex, "published_at": time.time(),
            "rederived_from": plain["model_sha"]}


async def rederive_all(link: Link, keys: FleetKeys, verifier: Verifier) -> Rederived:
    out = Rederived(verifier.model_sha)
    t0 = time.perf_counter()
    async for user, plain, revision in live_records(link, keys, out.unreadable):
        if plain["model_sha"] == verifier.model_sha:
            out.current += 1
            continue
        if not plain.get("signatures"):
            out.without_signatures.append(user)
            continue
        try:
            new = rederived_record(verifier, plain)
        except SigpadError:
            out.refused.append(user)
            continue
        if await put_back(link, keys, user, new, revision):
            out.rederived += 1
        else:
            out.changed_meanwhile.append(user)
    out.seconds = round(time.perf_counter() - t0, 3)
    return out
