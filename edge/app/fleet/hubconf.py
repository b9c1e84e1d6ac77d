"""``sigpad fleet init``: the hub's nats-server config and one credentials file per kiosk.

The hub config (``hub.conf``) names each kiosk by its public nkey (``nkeyid``;
the seed is in that kiosk's credentials file only) and what it may
publish: its own audit subjects, the JetStream API calls a kiosk makes on
the fleet's bucket, stream and model store, the bucket's subjects only with
the enrolment role, and the model store's only with the models role.
Everything else (another kiosk's audit subjects, deleting or purging a
stream) is refused by the server. Each kiosk's credentials
file carries the fleet key and goes to that kiosk only; the hub gets
``hub.conf`` and never the key. With TLS (``hubtls``) ``hub.conf`` names the
hub's certificate and key, and each credentials file carries the fleet's CA
certificate, which the kiosk pins.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...errors import ConfigError, FleetError
from .hubtls import HubTLS, write_hub_tls
from .nkeyid import new_identity
from .sealing import FleetKeys, write_private, write_private_bytes
from .subjects import AUDIT_PREFIX, AUDIT_STREAM, BUCKET, KV_STREAM, MODELS, MODELS_STREAM

ENROL = "enrol"
PUBLISH_MODELS = "models"
_KIOSK = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_MARK = "# kiosk "


def kiosk_publish(kiosk: str, roles: list[str]) -> list[str]:
    """The subjects ``kiosk`` may publish to (JetStream's API included)."""
    api = ["$JS.API.INFO", "$JS.FC.>", "$JS.API.STREAM.NAMES"]   # names: the object store looks its stream up
    for stream in (KV_STREAM, AUDIT_STREAM, MODELS_STREAM):
        api += [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}",
                f"$JS.API.STREAM.MSG.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>",
                f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.CREATE.{stream}.>",
                f"$JS.API.CONSUMER.INFO.{stream}.*", f"$JS.API.CONSUMER.DELETE.{stream}.*"]
    own = [f"{AUDIT_PREFIX}.{kiosk}.>"]
    models = [f"$O.{MODELS}.>", f"$JS.API.STREAM.PURGE.{MODELS_STREAM}"] if PUBLISH_MODELS in roles else []
    return api + own + ([f"$KV.{BUCKET}.>"] if ENROL in roles else []) + models


def check_kiosk(name: str) -> str:
    if not _KIOSK.fullmatch(name):
        raise ConfigError(f"kiosk name {name!r}: use 1-32 of a-z, 0-9 and -, starting with a letter or digit")
    return name


def user_entry(kiosk: str, nkey: str, roles: list[str]) -> str:
    """One kiosk's line in hub.conf; the comment names it, for ``revoke`` and for people."""
    perms = {"publish": {"allow": kiosk_publish(kiosk, roles)}, "subscribe": {"allow": ["_INBOX.>"]}}
    return f"    {{nkey: {json.dumps(nkey)}, permissions: {json.dumps(perms)}}}  {_MARK}{kiosk}"


def hub_config(listen: str, store_dir: Path, entries: list[str], tls: HubTLS | None = None) -> str:
    tls_block = "" if tls is None else (f"tls {{\n  cert_file: {json.dumps(str(tls.cert_file))}\n"
                                        f"  key_file: {json.dumps(str(tls.key_file))}\n  timeout: 5\n}}\n")
    return (f"# sigpad fleet hub (written by `sigpad fleet init`)\nlisten: {json.dumps(listen)}\n"
            f"jetstream {{\n  store_dir: {json.dumps(str(store_dir))}\n}}\n" + tls_block +
            "authorization {\n  users = [\n" + "\n".join(entries) + "\n  ]\n}\n")


def init_fleet(out: Path, url: str, listen: str, store_dir: Path, kiosks: dict[str, list[str]],
               tls_hosts: list[str] | None = None) -> dict[str, Any]:
    """Write ``out/hub.conf``, ``out/fleet.key`` and ``out/creds/<kiosk>.json``; what was written.
    ``tls_hosts``: the hub's names and addresses, for TLS (``out/tls/``); None: plain ``nats://``."""
    keys = FleetKeys.generate()
    tls = write_hub_tls(out, tls_hosts) if tls_hosts is not None else None
    entries, written = [], {}
    for kiosk, roles in kiosks.items():
        check_kiosk(kiosk)
        seed, nkey = new_identity()
        entries.append(user_entry(kiosk, nkey, roles))
        path = out / "creds" / f"{kiosk}.json"
        write_private(path, {"url": url, "kiosk": kiosk, "nkey": nkey, "nkey_seed": seed,
                             "roles": roles, "fleet_key": keys.to_json(),
                             **({"ca_cert": tls.ca_pem} if tls is not None else {})})
        written[kiosk] = str(path)
    out.mkdir(parents=True, exist_ok=True)
    conf = out / "hub.conf"
    conf.write_text(hub_config(listen, store_dir, entries, tls))
    conf.chmod(0o600)
    write_private(out / "fleet.key", keys.to_json())
    return {"hub_conf": str(conf), "fleet_key": str(out / "fleet.key"), "creds": written, "url": url,
            "tls": None if tls is None else {"cert_file": str(tls.cert_file), "key_file": str(tls.key_file),
                                             "hosts": tls_hosts}}


def revoke(conf: Path, kiosk: str) -> str:
    """Remove ``kiosk``'s nkey from the hub config ``conf`` (its public key, now refused once the
    hub reloads); ``FleetError`` if no line of that kiosk is there. The config is rewritten whole."""
    lines = conf.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.rstrip().endswith(_MARK + check_kiosk(kiosk))]
    if len(kept) == len(lines):
        raise FleetError(f"{conf}: no kiosk {kiosk!r} in it (revoked already?)")
    gone = next(line for line in lines if line not in kept)
    write_private_bytes(conf, "".join(kept).encode())
    return str(json.loads(gone.split("nkey:", 1)[1].split(",", 1)[0]))
