"""Template adaptation's rows: a replacement, the enrolment's references kept, and an undo.

An adaptation (``edge.adaptation``) replaces one reference inside a judging
transaction (``replace_template``). Since schema 3 an enrolment reference it
replaces is not deleted but *retired*: its sealed row moves, bytes unchanged,
to ``retired_templates`` (the associated data binds user, template id and
model, not the table), and the profile keeps the enrolment's ids and
statistics (``baseline``). So the references as enrolled can still be read
(``Store.load``'s ``Enrolled.baseline``: how far adaptation has moved the
centroid) and put back (``restore_baseline``: ``sigpad adaptations USER
--undo``). A reference that was itself an adaptation is deleted when
replaced, as before. The profile also lists each adaptation (when, which
reference, at what score: ``adaptation_records``).

A user adapted before schema 3 has lost the enrolment references replaced
then: their baseline is the enrolment references left (``enrolment_ids``),
and an undo is refused with the way out (re-enrol).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from .errors import ReenrolmentNeeded, TemplateIntegrityError
from .ledger import Sealer
from .store_schema import ADAPTATIONS_KEPT, Profile, Replacement, insert_template, seal_profile

ADAPTATION_KEYS = frozenset({"template_ids", "enrolled_ids", "adaptations", "adapted", "baseline"})
"""The profile's keys that are not the references' statistics."""


def stats_of(profile: Profile) -> dict[str, Any]:
    """The references' statistics in ``profile`` (what enrolment computed)."""
    return {k: v for k, v in profile.items() if k not in ADAPTATION_KEYS}


def enrolment_ids(profile: Profile) -> list[str]:
    """The ids of the enrolment's references still kept, in enrolment order: all of them
    once schema 3 keeps them (``baseline``), the current ones before any adaptation,
    else (adapted before schema 3) those left from the enrolment."""
    if "baseline" in profile:
        return list(profile["baseline"]["ids"])
    ids: list[str] = profile["template_ids"]
    if not profile.get("adaptations"):
        return list(ids)
    return [t for t in ids if t in set(profile.get("enrolled_ids", ()))]


def retired_ids(profile: Profile) -> list[str]:
    """The ids ``retired_templates`` must hold for this profile: no more, no fewer."""
    if "baseline" not in profile:
        return []
    return [t for t in profile["baseline"]["ids"] if t not in set(profile["template_ids"])]


def replace_template(db: sqlite3.Connection, sealer: Sealer, user: str, model_sha: str, profile: Profile,
                     r: Replacement) -> None:
    """Template adaptation inside a judging transaction: the new template is sealed and bound
    exactly as enrolment seals it (``insert_template``, a new id); the old row is retired
    if it is an enrolment reference (its raw signature, if kept, stays with it), else
    deleted; the profile is resealed with the new statistics, the enrolment ids left, the
    times, the record of this adaptation and the baseline."""
    current: list[str] = profile["template_ids"]
    ids = list(current)
    old, new = ids[r.index], os.urandom(8).hex()
    baseline = profile.get("baseline")
    if baseline is None and not profile.get("adaptations"):   # the first one: the references are the enrolment's
        baseline = {"ids": list(current), "stats": stats_of(profile)}
    if baseline is not None and old in baseline["ids"]:
        db.execute("INSERT INTO retired_templates SELECT user_id, template_id, sealed, stream_mac FROM templates "
                   "WHERE user_id=? AND template_id=?", (user, old))
    else:
        db.execute("DELETE FROM raw_signatures WHERE user_id=? AND template_id=?", (user, old))
    db.execute("DELETE FROM templates WHERE user_id=? AND template_id=?", (user, old))
    insert_template(db, sealer, user, new, r.template, r.stream_mac, model_sha)
    ids[r.index] = new
    record = {"at": r.at, "reference": r.index + 1, "score": r.score, "id": new, "replaced": old}
    _reseal(db, sealer, user, model_sha, {
        "template_ids": ids, **r.stats, "enrolled_ids": [t for t in profile.get("enrolled_ids", current) if t != old],
        "adaptations": (list(profile.get("adaptations", [])) + [r.at])[-ADAPTATIONS_KEPT:],
        "adapted": (list(profile.get("adapted", [])) + [record])[-ADAPTATIONS_KEPT:],
        **({"baseline": baseline} if baseline is not None else {})})


def restore_baseline(db: sqlite3.Connection, sealer: Sealer, user: str, model_sha: str, profile: Profile,
                     at: float) -> int:
    """Put the enrolment's references back (an undo of every adaptation); how many came back.

    The adapted references go; the retired rows return to ``templates`` as they were
    sealed; the profile gets the enrolment's ids and statistics back, each adaptation
    marked ``undone`` at ``at``. Its times stay: the daily bound keeps counting them,
    and the user row's tag keeps covering the profile (``adapted_profile_digest``)."""
    if "baseline" not in profile:
        if profile.get("adaptations"):
            raise ReenrolmentNeeded(f"{user!r} was adapted before this sigpad kept the enrolment's references: "
                                    "the replaced ones are gone; re-enrol them (enroll --replace) instead")
        return 0
    base: list[str] = profile["baseline"]["ids"]
    current: list[str] = profile["template_ids"]
    for tid in (t for t in current if t not in base):
        for table in ("templates", "raw_signatures"):
            db.execute(f"DELETE FROM {table} WHERE user_id=? AND template_id=?", (user, tid))
    back = [t for t in base if t not in current]
    for tid in back:
        moved = db.execute("INSERT INTO templates SELECT user_id, template_id, sealed, stream_mac "
                           "FROM retired_templates WHERE user_id=? AND template_id=?", (user, tid)).rowcount
        if moved != 1:
            raise TemplateIntegrityError(f"the enrolment reference {tid} of {user!r} is missing")
        db.execute("DELETE FROM retired_templates WHERE user_id=? AND template_id=?", (user, tid))
    records = [r if "undone" in r else {**r, "undone": at} for r in profile.get("adapted", [])]
    _reseal(db, sealer, user, model_sha, {
        "template_ids": list(base), **profile["baseline"]["stats"], "enrolled_ids": list(base),
        "adaptations": list(profile.get("adaptations", [])), "adapted": records, "baseline": profile["baseline"]})
    return len(back)


def adaptation_records(profile: Profile) -> list[dict[str, Any]]:
    """Each adaptation, oldest first: ``at``, ``reference`` (1-based), ``score``, ``undone``
    (its time, or None). Ones from before schema 3 kept only their time."""
    records = [dict(r) for r in profile.get("adapted", [])]
    known = {r["at"] for r in records}
    older = [{"at": t, "reference": None, "score": None} for t in profile.get("adaptations", []) if t not in known]
    return [{"at": r["at"], "reference": r["reference"], "score": r["score"], "undone": r.get("undone")}
            for r in sorted(older + records, key=lambda r: r["at"])]


def _reseal(db: sqlite3.Connection, sealer: Sealer, user: str, model_sha: str, profile: Profile) -> None:
    db.execute("UPDATE users SET profile=? WHERE user_id=?", (seal_profile(sealer, user, model_sha, profile), user))
