"""``sigpad fleet ...``: init, join, status, sync, enroll, verify, delete, unlock, history.

Each kiosk command works on the local store first and queues what the fleet
must learn in the outbox (``state``); then it syncs if the hub answers
(within ``--link-timeout``). A kiosk without its hub still enrols and
verifies; ``sigpad fleet status`` says how stale its copy is. ``verify``
syncs before judging, so a deletion or the fleet's failures elsewhere count.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ...errors import FleetError
from ...verifier import Verifier, open_store, open_verifier
from ..commands import _read_files, in_use
from ..config import Config
from ..report import ERROR, OK, REJECT, emit, show_decision
from .hubconf import ENROL, PUBLISH_MODELS, init_fleet
from .hubconf import revoke as revoke_kiosk
from .hubtls import tls_hosts
from .membership import joined, need_enrol_role, offline_lockout, on_link, try_sync
from .nkeyid import public_key, write_seed
from .sealing import FleetKeys, read_private, write_private
from .state import FleetState
from .subjects import AUDIT_PREFIX, AUDIT_STREAM, KV_STREAM
from .sync import FleetKiosk

log = logging.getLogger("sigpad.fleet")
T = TypeVar("T")


# --- where a kiosk keeps its fleet files ------------------------------------------------

def fleet_dir(args: argparse.Namespace, cfg: Config) -> Path:
    return Path(args.fleet_dir) if args.fleet_dir else cfg.store_path().parent / "fleet"


@contextmanager
def kiosk_of(args: argparse.Namespace, cfg: Config, verifier: Verifier | None = None) -> Iterator[FleetKiosk]:
    directory = fleet_dir(args, cfg)
    conf, keys = joined(directory)
    store = verifier.store if verifier is not None else open_store(cfg, create=True)
    state = FleetState(directory / "fleet.db")
    try:
        yield FleetKiosk(conf["kiosk"], store, state, keys, cfg.lockout, cfg.replay_history, conf)
    finally:
        state.close()
        if verifier is None:
            store.close()


# --- operator ---------------------------------------------------------------------------

def init(args: argparse.Namespace, cfg: Config) -> int:
    kiosks: dict[str, list[str]] = {}
    for name in args.kiosks.split(","):
        kiosks[name] = [ENROL] if (args.enrol is None or name in args.enrol.split(",")) else []
        if args.models is not None and name in args.models.split(","):
            kiosks[name].append(PUBLISH_MODELS)
    host, _, port = args.listen.rpartition(":")
    url = args.url or f"{'nats' if args.no_tls else 'tls'}://{host}:{port}"
    hosts = None if args.no_tls else tls_hosts(url, args.listen, [h for h in (args.tls_host or "").split(",") if h])
    written = init_fleet(Path(args.out), url, args.listen, Path(args.store_dir or Path(args.out) / "jetstream"),
                         kiosks, hosts)
    emit(args, written, f"hub config {written['hub_conf']} (run: nats-server -c {written['hub_conf']})\n"
         + "\n".join(f"kiosk {k}: {p} (sigpad fleet join {url} --creds {p})" for k, p in written["creds"].items()))
    return OK


def revoke(args: argparse.Namespace, cfg: Config) -> int:
    """Take a kiosk's nkey out of hub.conf; the hub refuses it once reloaded (SIGHUP), and
    closes its open connections then (tested). The fleet key it held: ``rotate-key``."""
    nkey = revoke_kiosk(Path(args.conf), args.kiosk)
    if args.reload is not None:
        os.kill(args.reload, signal.SIGHUP)     # what `nats-server --signal reload=PID` sends
    emit(args, {"kiosk": args.kiosk, "nkey": nkey, "reloaded": args.reload is not None},
         f"kiosk {args.kiosk} ({nkey}) removed from {args.conf}"
         + ("; hub reloaded" if args.reload is not None else
            "; reload the hub: nats-server --signal reload=PID (or kill -HUP PID)")
         + "; then `sigpad fleet rotate-key` at a kiosk with the enrolment role")
    return OK


def join(args: argparse.Namespace, cfg: Config) -> int:
    creds = read_private(Path(args.creds), "kiosk credentials")
    directory = fleet_dir(args, cfg)
    if args.key is not None:           # a key rotated since the credentials were made
        keys = FleetKeys.from_json(read_private(Path(args.key), "fleet key"), str(args.key))
    else:
        keys = FleetKeys.from_json(creds.get("fleet_key", {}), str(args.creds))
    if "nkey_seed" not in creds:
        raise FleetError(f"{args.creds}: no nkey seed in these credentials (made before nkeys?): "
                         "`sigpad fleet init` again and join with the new file")
    nkey = public_key(str(creds["nkey_seed"]), str(args.creds))
    conf = {k: creds[k] for k in ("kiosk", "roles")}
    conf.update({"url": args.url, "nkey": nkey})
    if "ca_cert" in creds:             # the fleet's CA, pinned: TLS to the hub and nothing else
        conf["ca_cert"] = creds["ca_cert"]
        if args.url.startswith("nats://"):
            conf["url"] = "tls://" + args.url.removeprefix("nats://")
    write_private(directory / "fleet.json", conf)
    write_private(directory / "fleet.key", keys.to_json())
    write_seed(directory, creds["nkey_seed"])
    state = FleetState(directory / "fleet.db")
    state.advance("kv", 0)             # read the bucket again: records a former key could not open
    state.close()
    emit(args, {"kiosk": conf["kiosk"], "url": conf["url"], "roles": conf["roles"], "fleet_dir": str(directory),
                "tls": "ca_cert" in conf, "nkey": nkey},
         f"kiosk {conf['kiosk']} joined {conf['url']} (roles: {', '.join(conf['roles']) or 'none'}"
         + (", TLS pinned to the fleet's CA)" if "ca_cert" in conf else ", no TLS)"))
    return OK


def sync(args: argparse.Namespace, cfg: Config) -> int:
    with kiosk_of(args, cfg) as kiosk:
        report = try_sync(args, kiosk)
        if report is None:
            emit(args, {"synced": False, "error": kiosk.state.get("link_error"), "outbox": kiosk.state.depth()},
                 f"not synced: {kiosk.state.get('link_error')}")
            return ERROR
        payload = {"synced": True, **report.to_dict(), "outbox": kiosk.state.depth()}
        emit(args, payload, "synced: " + ", ".join(f"{k} {v}" for k, v in payload.items() if k != "synced"))
    return OK


def status(args: argparse.Namespace, cfg: Config) -> int:
    with kiosk_of(args, cfg) as kiosk:
        conf, keys = joined(fleet_dir(args, cfg))
        hub_rev: int | None = None
        try:
            hub_rev = on_link(args, conf, lambda link: link.last_seq(KV_STREAM))
        except FleetError as exc:
            kiosk.state.put("link_error", str(exc))
        last = float(kiosk.state.get("last_sync", "0"))
        applied = kiosk.state.cursor("kv")
        out = {"kiosk": kiosk.kiosk, "url": conf["url"], "roles": conf["roles"], "key_id": keys.current,
               "connected": hub_rev is not None, "revision": applied, "hub_revision": hub_rev,
               "lag_revisions": None if hub_rev is None else max(0, hub_rev - applied),
               "last_sync": last or None, "stale_s": round(time.time() - last, 1) if last else None,
               "outbox": kiosk.state.depth(), "users": len(kiosk.store.users()),
               "error": None if hub_rev is not None else kiosk.state.get("link_error")}
    emit(args, out, "\n".join(f"{k}: {v}" for k, v in out.items()))
    return OK if hub_rev is not None else ERROR


def history(args: argparse.Namespace, cfg: Config) -> int:
    conf, _ = joined(fleet_dir(args, cfg))

    async def read(link: Any) -> list[dict[str, Any]]:
        subject = f"{AUDIT_PREFIX}.*.{args.user.encode().hex() or '-'}"   # "": fleet-wide events
        return [json.loads(seen.data) async for seen in link.read(AUDIT_STREAM, subject, 0)]
    seen: dict[str, dict[str, Any]] = {}
    for event in on_link(args, conf, read):
        seen.setdefault(event["id"], event)      # the hub de-duplicates; a re-sent id is shown once anyway
    events = list(seen.values())[-args.last:]
    emit(args, {"user": args.user, "events": events}, "\n".join(_event_line(e) for e in events)
         or f"no fleet events for {args.user}")
    return OK


def _event_line(e: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
    extra = f" {e['reason']} score {e['score']}" if e["event"] == "decision" else ""
    return f"{when}  {e['kiosk']:12s} {e['event']}{extra}"


# --- a kiosk's own work -----------------------------------------------------------------

def enroll(args: argparse.Namespace, cfg: Config) -> int:
    conf, _ = joined(fleet_dir(args, cfg))
    need_enrol_role(conf, "enrol")
    sigs = _read_files(args.file)
    with open_verifier(cfg, has_pressure=all(s.has_pressure for s in sigs)) as v, kiosk_of(args, cfg, v) as kiosk:
        try_sync(args, kiosk)
        v.check_enrollable(args.user, args.replace)
        result = v.enrol(args.user, sigs, replace=args.replace)
        from firmware_bridge.svc2004 import format_signature
        kiosk.queue_enrolment(args.user, [format_signature(s) for s in sigs])
        synced = try_sync(args, kiosk) is not None
        out = {"user": args.user, "enrolled": True, "templates": len(result.templates), "synced": synced,
               "outbox": kiosk.state.depth(), **in_use(v)}
    emit(args, out, f"enrolled {args.user} at kiosk {conf['kiosk']}: "
         + ("sent to the fleet" if synced else "hub away: queued in the outbox"))
    return OK


def verify(args: argparse.Namespace, cfg: Config) -> int:
    sig = _read_files(args.file)[0]
    with open_verifier(cfg, has_pressure=sig.has_pressure) as v, kiosk_of(args, cfg, v) as kiosk:
        if try_sync(args, kiosk) is None:   # cut off: the fleet's failures elsewhere are unknown here
            v.lockout = offline_lockout(v.lockout, args.offline_lockout_after)
        decision = v.verify(args.user, sig)
        kiosk.queue_decision(decision)
        try_sync(args, kiosk)
        return show_decision(args, decision, in_use(v))


def delete(args: argparse.Namespace, cfg: Config) -> int:
    need_enrol_role(joined(fleet_dir(args, cfg))[0], "delete")
    with kiosk_of(args, cfg) as kiosk:
        try_sync(args, kiosk)
        found = kiosk.store.delete(args.user)
        kiosk.queue_deletion(args.user)
        synced = try_sync(args, kiosk) is not None
    emit(args, {"user": args.user, "deleted": found, "synced": synced},
         f"deleted {args.user}" + ("" if synced else " here; the fleet learns it when the hub is back"))
    return OK if found else REJECT


def unlock(args: argparse.Namespace, cfg: Config) -> int:
    with kiosk_of(args, cfg) as kiosk:
        before = kiosk.store.unlock(args.user)
        if before is not None:
            kiosk.state.audit("unlock", args.user, kiosk.kiosk)
            try_sync(args, kiosk)
    emit(args, {"user": args.user, "unlocked": before is not None},
         f"unlocked {args.user} fleet-wide" if before is not None else f"{args.user} is not enrolled here")
    return OK if before is not None else REJECT


def rotate_key(args: argparse.Namespace, cfg: Config) -> int:
    from .rotate import reseal_all
    directory = fleet_dir(args, cfg)
    conf, keys = joined(directory)
    need_enrol_role(conf, "rotate the key")
    new = keys.rotated()
    rotation = on_link(args, conf, lambda link: reseal_all(link, new))
    write_private(directory / "fleet.key", new.only_current().to_json())
    if args.out is not None:
        write_private(Path(args.out), new.only_current().to_json())
    emit(args, {**rotation.to_dict(), "key_file": str(args.out or directory / "fleet.key")},
         f"fleet key {new.current}: {rotation.resealed} records re-sealed"
         + (f"; changed meanwhile (run again): {', '.join(rotation.changed_meanwhile)}"
            if rotation.changed_meanwhile else ""))
    return OK if not rotation.changed_meanwhile and not rotation.unreadable else REJECT


def publish_model(args: argparse.Namespace, cfg: Config) -> int:
    from .rollout import publish_model as publish
    conf, _ = joined(fleet_dir(args, cfg))
    if PUBLISH_MODELS not in conf["roles"]:
        raise FleetError(f"kiosk {conf['kiosk']} has no models role: publish at a kiosk that has it")
    out = on_link(args, conf, lambda link: publish(link, Path(args.dir), args.kind))
    emit(args, out, f"published the {args.kind} model {out['sha256'][:12]}... ({out['bytes']} bytes)")
    return OK


def fetch_model(args: argparse.Namespace, cfg: Config) -> int:
    from .rollout import fetch_model as fetch
    with kiosk_of(args, cfg) as kiosk:
        out = on_link(args, kiosk.link_conf, lambda link: fetch(link, Path(args.to), args.kind))
        if out["changed"]:
            kiosk.state.audit("model-change", "", kiosk.kiosk, model_kind=args.kind, sha256=out["sha256"])
            try_sync(args, kiosk)
    emit(args, out, f"{args.kind} model {out['sha256'][:12]}... at {out['path']}"
         + (" (switched)" if out["changed"] else " (already in use)"))
    return OK


def rederive(args: argparse.Namespace, cfg: Config) -> int:
    from .rederive import rederive_all
    with kiosk_of(args, cfg) as kiosk:
        need_enrol_role(kiosk.link_conf, "re-derive")
        if PUBLISH_MODELS not in kiosk.link_conf["roles"]:
            raise FleetError(f"kiosk {kiosk.kiosk} has no models role: re-derive at a kiosk that has it")
        with open_verifier(cfg, has_pressure=args.kind == "pressure") as v:
            done = on_link(args, kiosk.link_conf, lambda link: rederive_all(link, kiosk.keys, v))
        kiosk.state.audit("rederive", "", kiosk.kiosk, model_sha=done.model_sha, users=done.rederived)
        try_sync(args, kiosk)
    out = done.to_dict()
    emit(args, out, f"model {done.model_sha[:12]}...: {done.rederived} users re-derived in {done.seconds} s, "
         f"{done.current} already on it; to enrol again (no signatures kept): "
         f"{', '.join(done.without_signatures) or 'none'}")
    return OK if not (done.refused or done.changed_meanwhile or done.unreadable) else REJECT


def demo(args: argparse.Namespace, cfg: Config) -> int:
    from .demo import run_fleet_demo
    return run_fleet_demo(args, cfg)


COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "init": init, "join": join, "status": status, "sync": sync, "history": history,
    "enroll": enroll, "enrol": enroll, "verify": verify, "delete": delete, "unlock": unlock,
    "rotate-key": rotate_key, "revoke": revoke, "demo": demo,
    "publish-model": publish_model, "fetch-model": fetch_model, "rederive": rederive}


def run(args: argparse.Namespace, cfg: Config) -> int:
    return COMMANDS[args.fleet_command](args, cfg)
