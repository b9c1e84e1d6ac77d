"""The operator's commands: ``init``, ``status``, ``unlock USER``, ``history USER``,
``adaptations USER [--undo]``, ``backup``, ``restore``.

``status`` asks a running service over its control socket first (``ping``,
then ``status`` where the service answers it); whether it is up or not, it
then reports what it can read itself: the pad named in the settings (present,
held by which process), the model of each pad kind, the store, its users and
who is locked out. ``unlock`` clears a lockout and keeps that in the user's
history, beside the decisions ``history`` lists; ``adaptations --undo`` puts
a user's enrolment references back and keeps that there too.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from datetime import datetime
from typing import Any

from firmware_bridge.errors import SigpadError

from ..client import ServiceClient
from ..errors import ServiceError, UnknownUser
from ..manifest import load_manifest
from ..model import KINDS
from ..operating_point import choose
from ..verifier import model_dir_of, open_store
from ..wire import Message, find_socket
from .config import Config
from .operator_store import undo_adaptations, unlock_user, user_adaptations, user_history
from .report import ERROR, OK, emit

log = logging.getLogger("sigpad.operator")
SOCKET_TIMEOUT_S = 2.0
Report = dict[str, Any]
"""A part of the status report, as ``--json`` prints it."""


def init(args: argparse.Namespace, cfg: Config) -> int:
    """Create the store and its key (what ``enroll`` would do on first use)."""
    path = cfg.store_path()
    existed = path.exists()
    with open_store(cfg, create=True) as store:
        users = len(store.users())
    verb = "exists" if existed else "created"
    emit(args, {"store": str(path), "key": str(cfg.key_path()), "created": not existed, "users": users},
         f"store {path} {verb} ({users} users); key {cfg.key_path()}")
    return OK


# --- status ------------------------------------------------------------------------

def status(args: argparse.Namespace, cfg: Config) -> int:
    report = {"service": _service(cfg), "pad": _pad(cfg), "models": _models(cfg), "store": _store(cfg)}
    from .fleet.summary import local_summary  # the fleet's files only: no hub asked, no nats-py
    fleet = local_summary(cfg.store_path().parent / "fleet")
    if fleet is not None:
        report["fleet"] = fleet
    emit(args, report, "\n".join(_status_lines(report)))
    return OK if report["store"]["exists"] else ERROR


def _service(cfg: Config) -> Report:
    """Whether the service answers on its socket (``edge.wire.find_socket``), and what it reports."""
    path = find_socket(cfg.socket)
    out: Report = {"socket": str(path), "up": False}
    try:
        with ServiceClient(path, timeout_s=SOCKET_TIMEOUT_S) as service:
            out["up"] = service.ping().get("event") == "pong"
            answer = service.status()
            if answer.get("event") == "status":
                out["reported"] = {k: v for k, v in answer.items() if k != "event"}
    except FileNotFoundError:
        out["why"] = "no socket: the service is not running"
    except ConnectionRefusedError:
        out["why"] = "nobody listens on the socket (a stale one): the service is not running"
    except PermissionError:
        out["why"] = "permission denied: run as the service's user or group (sudo sigpad status)"
    except (OSError, ValueError) as exc:
        out["why"] = f"no answer: {exc}"
    return out


def _pad(cfg: Config) -> Report:
    from firmware_bridge.ports import describe
    out: Report = {"port": cfg.port, "protocol": cfg.protocol, "baud": cfg.baud}
    if cfg.port and cfg.port != "auto" and "://" not in cfg.port:
        info = describe(cfg.port)
        out.update(present=info.exists, held_by=[vars(h) for h in info.held_by], may_open=info.may_open,
                   fix=info.fix)
    return out


def _models(cfg: Config) -> Report:
    out: Report = {}
    for kind in KINDS:
        try:
            directory = model_dir_of(cfg, kind == KINDS[0])
            m = load_manifest(directory / "manifest.json")
            score = cfg.score or m.score
            point = choose(m, cfg, score)     # a ConfigError: this kind's error
            out[kind] = {"path": str(directory), "sha256": m.sha256, "score": score, **point.to_dict(),
                         "levels": sorted(m.operating_levels()) if score == m.score else [],
                         "described": point.describe()}
        except SigpadError as exc:
            out[kind] = {"error": str(exc)}
    return out


def _store(cfg: Config) -> Report:
    path = cfg.store_path()
    out: Report = {"path": str(path), "exists": path.exists()}
    if not out["exists"]:
        return out
    now = time.time()
    with open_store(cfg, create=False) as store:
        users = store.users()
        out["users"] = len(users)
        out["locked_out"] = [{"user": u.user, "remaining_s": round(u.locked_until - now)}
                             for u in users if u.locked_until > now]
    return out


def _status_lines(r: Report) -> list[str]:
    svc, pad, store = r["service"], r["pad"], r["store"]
    lines = [f"service  {'up' if svc['up'] else 'down'}: {svc['socket']}"
             + ("" if svc["up"] else f" ({svc.get('why', 'no answer')})")]
    lines.append(_pad_line(pad))
    for kind, m in r["models"].items():
        lines.append(f"model    {kind}: " + (m["error"] if "error" in m else
                     f"{m['path']} (sha256 {m['sha256'][:12]}..., {m['score']}; {m['described']})"))
    if not store["exists"]:
        lines.append(f"store    {store['path']}: does not exist (enroll or init creates it)")
    else:
        locked = ", ".join(f"{u['user']} ({u['remaining_s']} s left)" for u in store["locked_out"]) or "none"
        lines.append(f"store    {store['path']}: {store['users']} users; locked out: {locked}")
    if "fleet" in r:
        from .fleet.summary import summary_line
        lines.append(summary_line(r["fleet"]))
    return lines


def _pad_line(pad: Report) -> str:
    if not pad["port"]:
        return "pad      none configured ([pad] port or --port)"
    line = f"pad      {pad['port']} ({pad['protocol']}, {pad['baud'] or 'its usual'} baud)"
    if "present" not in pad:
        return line  # auto or a URL: nothing to look at without opening it
    if not pad["present"]:
        return line + ": not present (unplugged, or another name?)"
    held = ", ".join(f"PID {h['pid']}" for h in pad["held_by"])
    line += ": present" + (f", held by {held}" if held else ", free")
    return line + (f"; {pad['fix']}" if pad["fix"] else "")


# --- unlock and history ----------------------------------------------------------------

def unlock(args: argparse.Namespace, cfg: Config) -> int:
    service = running_service(cfg)
    if service is not None:
        with service:
            done = answer_of(service.request({"cmd": "unlock", "user": args.user}), "unlocked")
    else:
        with open_store(cfg, create=False) as store:
            done = unlock_user(store, args.user, by=_who())
    was = done["was_locked_s"]
    emit(args, done, f"unlocked {args.user} ({done['failures']} failures"
         + (f", {was:.0f} s of lock left)" if was else ", was not locked)") + _via(service))
    return OK


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def history(args: argparse.Namespace, cfg: Config) -> int:
    service = running_service(cfg)
    if service is not None:
        with service:
            got = answer_of(service.request({"cmd": "history", "user": args.user, "last": args.last}), "history")
    else:
        with open_store(cfg, create=False) as store:
            got = user_history(store, args.user, args.last)
    rows = got["history"]
    emit(args, got, "\n".join([*(_history_line(r) for r in rows),
                               f"{len(rows)} entries for {args.user}; {got['failures']} failures in a row"
                               + _via(service)]))
    return OK


def adaptations(args: argparse.Namespace, cfg: Config) -> int:
    """List a user's adaptations, or (``--undo``) put the enrolment's references back."""
    service = running_service(cfg)
    cmd, event = ("undo-adaptations", "undone") if args.undo else ("adaptations", "adaptations")
    if service is not None:
        with service:
            got = answer_of(service.request({"cmd": cmd, "user": args.user}), event)
        got = {k: v for k, v in got.items() if k != "event"}
    else:
        with open_store(cfg, create=False) as store:
            got = undo_adaptations(store, args.user, by=_who()) if args.undo else user_adaptations(store, args.user)
    if args.undo:
        emit(args, got, f"{args.user}: {got['undone']} adaptations undone, {got['restored']} enrolment "
             "references restored" + _via(service))
        return OK
    rows = got["adaptations"]
    emit(args, got, "\n".join([*(_adaptation_line(r) for r in rows),
                               f"{len(rows)} adaptations of {args.user}" + _via(service)]))
    return OK


def _adaptation_line(r: Report) -> str:
    when = datetime.fromtimestamp(r["at"]).strftime("%Y-%m-%d %H:%M:%S")
    which = "reference ?" if r["reference"] is None else f"reference {r['reference']}"
    score = "score ?" if r["score"] is None else f"score {r['score']:.3f}"
    undone = "" if r["undone"] is None else \
        f"  (undone {datetime.fromtimestamp(r['undone']).strftime('%Y-%m-%d %H:%M:%S')})"
    return f"{when}  {which} replaced at {score}{undone}"


# --- through the running service, when there is one ---------------------------------------

def running_service(cfg: Config) -> ServiceClient | None:
    """A client of the service when one answers on its socket (it holds the pad and the
    store: ask it); None when none runs (the command works alone)."""
    path = find_socket(cfg.socket)
    if not path.exists():
        return None
    try:
        client = ServiceClient(path, timeout_s=SOCKET_TIMEOUT_S)
    except (OSError, SigpadError) as exc:
        log.info("no service on %s (%s): working alone", path, exc)
        return None
    try:
        client.ping()
    except (OSError, ValueError):
        client.close()
        return None
    client.sock.settimeout(None)        # an enrolment waits for the signer, as long as it takes
    return client


def answer_of(answer: Message, wanted: str) -> Message:
    """The service's answer if it is ``wanted``; its error raised as the command's own."""
    if answer.get("event") == wanted:
        return answer
    message = str(answer.get("error") or answer)
    if answer.get("type") == "UnknownUser":
        raise UnknownUser(message)
    raise ServiceError(f"the service says: {message}")


def _via(service: ServiceClient | None) -> str:
    return f" (through the service on {service.path})" if service is not None else ""


def _history_line(r: Report) -> str:
    when = datetime.fromtimestamp(r["at"]).strftime("%Y-%m-%d %H:%M:%S")
    if r.get("event") == "unlocked":
        return f"{when}  unlocked by {r['by']} ({r['lock_left_s']} s of lock left, {r['failures']} failures)"
    if r.get("event") == "adaptations-undone":
        return f"{when}  adaptations undone by {r['by']} ({r['adaptations']} undone, {r['restored']} restored)"
    verdict = "ACCEPTED" if r["accepted"] else "REJECTED"
    score = "-" if r["score"] is None else f"{r['score']:.3f}"
    adapted = f"  adapted: {r['adapted']}" if r.get("adapted") else ""
    down = f"  down: {', '.join(r['reasons'])}" if r.get("reasons") else ""    # entries before issue #20 have none
    return f"{when}  {verdict}  {r['reason']:20s} score {score}  {r.get('pad') or ''}".rstrip() + down + adapted



# --- backup and restore ------------------------------------------------------------------

def backup(args: argparse.Namespace, cfg: Config) -> int:
    from . import backup as bk
    passphrase = bk.read_passphrase(args.passphrase_file) if args.passphrase_file else None
    made = bk.backup(cfg.store_path(), cfg.key_path(), args.file, passphrase)
    emit(args, {**made, "file": str(args.file)},
         f"backup {args.file}: store {made['store']} at generation {made['generation']}, "
         + ("key included (sealed with the passphrase)" if passphrase else "key NOT included"))
    if passphrase is None:
        say(f"the key is not in the backup: a restored store opens only with the key from "
            f"{made['key_source']} - keep a copy of it apart from the backup (or back up with "
            "--passphrase-file to include it sealed)")
    return OK


def restore(args: argparse.Namespace, cfg: Config) -> int:
    from . import backup as bk
    passphrase = bk.read_passphrase(args.passphrase_file) if args.passphrase_file else None
    done = bk.restore(args.file, cfg.store_path(), cfg.key_path(), passphrase, force=args.force)
    users = done["users"]
    emit(args, done, f"restored {args.file} to {done['restored_to']} (generation {done['generation']}, "
         + ("key not here yet)" if users is None else f"{users} users, opened with {done['key_file']})"))
    if users is None:
        say(f"the backup holds no key: put the store's key at {done['key_file']} (mode 0600) or give the "
            "service the systemd credential sigpad-store-key; until then the store does not open")
    return OK


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
