"""The ``sigpad fleet`` subcommands' options (argparse only: nats-py is imported when one runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

Common = Callable[[argparse.ArgumentParser], None]


def add_fleet_commands(add: Callable[..., argparse.ArgumentParser], common: Common) -> None:
    """``sigpad fleet``, its subcommands each with the common options (``common``)."""
    fleet = add("fleet", help="enrol once, verify at any kiosk: a NATS JetStream hub (docs/fleet.md)")
    fleet.set_defaults(nested_commands=True)
    sub = fleet.add_subparsers(dest="fleet_command", required=True)

    def cmd(name: str, help_text: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, allow_abbrev=False, **kw)
        common(p)
        p.add_argument("--fleet-dir", type=Path, help="the kiosk's fleet files (default: fleet/ beside the store)")
        p.add_argument("--link-timeout", type=float, default=2.0, metavar="S",
                       help="seconds to wait for the hub before working offline (default 2)")
        return p
    _operator_commands(cmd)
    _kiosk_commands(cmd)
    _model_commands(cmd)


Cmd = Callable[..., argparse.ArgumentParser]
"""``cmd(name, help, **options)``: a ``sigpad fleet`` subcommand's parser."""


def _operator_commands(cmd: Cmd) -> None:
    """init, join, revoke, rotate-key, status, sync."""
    p = cmd("init", "write a hub config (nats-server) and one credentials file per kiosk")
    p.add_argument("--out", type=Path, required=True, help="directory for hub.conf, fleet.key, creds/")
    p.add_argument("--kiosks", required=True, help="kiosk names, comma-separated (a-z, 0-9, -)")
    p.add_argument("--enrol", help="kiosks with the enrolment role (default: all)")
    p.add_argument("--models", help="kiosks that may publish models (default: none)")
    p.add_argument("--listen", default="127.0.0.1:4222", help="the hub's HOST:PORT (default 127.0.0.1:4222)")
    p.add_argument("--url", help="the URL kiosks connect to (default tls://HOST:PORT; nats:// with --no-tls)")
    p.add_argument("--tls-host", metavar="NAMES",
                   help="more names/addresses for the hub's certificate, comma-separated "
                        "(the URL's host and the listening host are in it)")
    p.add_argument("--no-tls", action="store_true",
                   help="plain nats:// (metadata in clear on the network, the link open to hijacking: a "
                        "loopback or otherwise protected hub only)")
    p.add_argument("--store-dir", type=Path, help="the hub's JetStream directory (default OUT/jetstream)")
    p = cmd("join", "make this kiosk a member: the hub's URL and the credentials file from init")
    p.add_argument("url", help="tls://HOST:PORT (nats:// for a hub without TLS)")
    p.add_argument("--creds", type=Path, required=True, help="this kiosk's credentials file (from init)")
    p.add_argument("--key", type=Path, help="the fleet key, when rotated since init (rotate-key --out)")
    p = cmd("revoke", "take a kiosk's nkey out of the hub config (then reload the hub and rotate-key)")
    p.add_argument("kiosk")
    p.add_argument("--conf", type=Path, required=True, help="the hub's hub.conf (from init)")
    p.add_argument("--reload", type=int, metavar="PID", help="send the hub's nats-server SIGHUP (a reload)")
    p = cmd("rotate-key", "re-seal every record under a new fleet key (after a kiosk is lost)")
    p.add_argument("--out", type=Path, help="also write the new key here, for the other kiosks")
    cmd("status", "connected?, lag in revisions and seconds, outbox depth, last sync")
    cmd("sync", "send the outbox, then apply the fleet's templates, deletions and failures")


def _kiosk_commands(cmd: Cmd) -> None:
    """What a kiosk does for its users: enroll, verify, delete, unlock, history."""
    p = cmd("enroll", "enrol a user here and for the fleet", aliases=["enrol"])
    p.add_argument("user")
    p.add_argument("--file", nargs="+", type=Path, required=True, metavar="F", help="signature files")
    p.add_argument("--replace", action="store_true", help="re-enrol a user already enrolled")
    p = cmd("verify", "sync, then accept or reject one signature as USER's (counted fleet-wide)")
    p.add_argument("user")
    p.add_argument("--file", nargs=1, type=Path, required=True, metavar="F", help="the signature file")
    p.add_argument("--offline-lockout-after", type=int, default=2, metavar="N",
                   help="with the hub away, lock after N failures here (default 2; 0: as online)")
    for name, text in (("delete", "delete a user here and in the fleet (a tombstone)"),
                       ("unlock", "clear a user's lockout at every kiosk")):
        cmd(name, text).add_argument("user")
    p = cmd("history", "a user's fleet-wide audit events (from the hub)")
    p.add_argument("user", help='the user ("": events of no user, such as model changes)')
    p.add_argument("--last", type=int, default=50, help="events to show (default 50)")


def _model_commands(cmd: Cmd) -> None:
    """The models through the hub, and the demo."""
    p = cmd("publish-model", "put a model directory in the hub's object store as the fleet's (models role)")
    p.add_argument("dir", type=Path, help="a model directory (manifest.json and its .tflite)")
    p.add_argument("--kind", choices=("pressure", "no_pressure"), default="pressure")
    p = cmd("fetch-model", "fetch the fleet's model, check it, switch to it by one rename")
    p.add_argument("--to", type=Path, required=True, help="the models root (use it as --model / [model] path)")
    p.add_argument("--kind", choices=("pressure", "no_pressure"), default="pressure")
    p = cmd("rederive", "make every user's templates again under --model from the sealed signatures")
    p.add_argument("--kind", choices=("pressure", "no_pressure"), default="pressure",
                   help="which kind of pad the model is for (default pressure)")
    cmd("demo", "a hub and two kiosks here: enrol, verify elsewhere, cut the link, enrol offline, heal")
