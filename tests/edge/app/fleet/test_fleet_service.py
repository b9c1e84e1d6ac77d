"""``sigpad serve`` as a fleet member, against a real nats-server: its sync thread applies
the fleet's enrolments, its decisions and unlocks reach the other kiosks through the
outbox, ``/v1/fleet`` says where it stands, and the link going down or up is one log line.

The service runs in a thread of this process on a virtual pad; the other kiosk is the
real ``sigpad fleet`` CLI. Every wait is for an event (``wait_for``), never a duration.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import Kiosk
from helpers.waiting import wait_for
from service_harness import http_client, running

from edge.app.config import Config
from edge.client import ApiError, ServiceClient
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.signature import Signature
from firmware_bridge.svc2004 import format_signature
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.slow]
PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)
BOB, EVE = make_writer(7_000_000_021), make_writer(7_000_000_055)
ALL = ["enrol"]


def service_cfg(tmp_path: Path, vpad: VirtualPad, model_dir: Path, kiosk: str = "svc", **kw: Any) -> Config:
    """The service of the kiosk ``kiosk`` (joined by ``Kiosk(tmp_path, kiosk, hub)``: its store)."""
    sock = tmp_path / "run" / "control.sock"
    sock.parent.mkdir(exist_ok=True)
    return Config(store=tmp_path / kiosk / "store.db", model=model_dir, port=vpad.path, protocol="sigpad",
                  socket=sock, http="127.0.0.1:0", lift_timeout_s=0.8, fleet_sync_s=0.3, **kw)


def sig_files(tmp_path: Path, name: str, sigs: list[Signature]) -> list[str]:
    paths = []
    for i, sig in enumerate(sigs):
        path = tmp_path / f"{name}{i}.txt"
        path.write_text(format_signature(sig))
        paths.append(str(path))
    return paths


def fleet_of(cfg: Config) -> dict[str, Any]:
    answer: dict[str, Any] = http_client(cfg).call("GET", "/v1/fleet")
    return answer


def verify_at_service(cfg: Config, vpad: VirtualPad, user: str, sig: Signature) -> dict[str, Any]:
    """A verify through the control socket, signed on the pad once the service prompts."""
    with http_client(cfg).stream() as events, ServiceClient(cfg.socket) as client:
        pending = ThreadPoolExecutor(1).submit(client.verify, user)
        events.until("prompt")
        vpad.sign(sig)
        decision: dict[str, Any] = pending.result(120)
    return decision


def sent(cfg: Config) -> bool:
    """The service's outbox is empty and a sync has run since."""
    fleet = fleet_of(cfg)["fleet"]
    return bool(fleet["outbox"] == 0 and fleet["connected"])


def test_the_service_takes_part_in_the_fleets_enrolments_lockout_and_audit(hub_for, tmp_path, model_dir):
    hub = hub_for({"svc": ALL, "k2": ALL})
    Kiosk(tmp_path, "svc", hub)                                  # `sigpad fleet join` for the service's store
    k2 = Kiosk(tmp_path, "k2", hub)
    model = ("--model", str(model_dir), "--lockout-after", "3")
    enrolled = k2.run("enroll", "bob", "--file", *sig_files(tmp_path, "bob", [BOB.genuine(i) for i in range(6)]),
                      *model)
    assert enrolled["synced"], enrolled
    genuine = sig_files(tmp_path, "probe", [BOB.genuine(9)])[0]
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = service_cfg(tmp_path, vpad, model_dir, lockout_after=3)
        with running(cfg):
            with ServiceClient(cfg.socket) as c:                 # k2's enrolment, applied by the sync thread
                wait_for(lambda: any(u["user"] == "bob" for u in c.users()), "bob at the service")
            assert verify_at_service(cfg, vpad, "bob", BOB.genuine(8))["accepted"] is True
            for i in range(3):                                   # 3 failures at the service
                decision = verify_at_service(cfg, vpad, "bob", EVE.genuine(i))
                assert decision["reason"] == "no-match", decision
            wait_for(lambda: sent(cfg), "the service's decisions at the hub")
            refused = k2.run("verify", "bob", "--file", genuine, *model)
            assert refused["reason"] == "locked-out", refused    # counted at k2
            history = k2.run("history", "bob")["events"]
            at_service = [e["reason"] for e in history if e["kiosk"] == "svc" and e["event"] == "decision"]
            assert at_service == ["match", "no-match", "no-match", "no-match"]

            with ServiceClient(cfg.socket) as c:                 # an unlock at the service frees bob at k2
                assert c.request({"cmd": "unlock", "user": "bob"})["unlocked"] is True
            wait_for(lambda: sent(cfg), "the service's unlock at the hub")
            assert k2.run("verify", "bob", "--file", genuine, *model)["accepted"] is True
            fleet = fleet_of(cfg)["fleet"]
    assert fleet["kiosk"] == "svc" and fleet["url"] == hub.url and fleet["lag_revisions"] == 0
    assert fleet["last_sync"] and fleet["model"] and fleet["syncs"] >= 1


def test_link_down_and_up_are_one_log_line_each(hub_for, tmp_path, model_dir, caplog):
    hub = hub_for({"svc": ALL})
    Kiosk(tmp_path, "svc", hub)
    caplog.set_level(logging.INFO, logger="sigpad.service")

    def lines(word: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "sigpad.service" and f"fleet link {word}" in r.getMessage()]
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = service_cfg(tmp_path, vpad, model_dir)
        with running(cfg):
            wait_for(lambda: fleet_of(cfg)["fleet"]["connected"] is True, "connected")
            hub.stop()
            wait_for(lambda: lines("down"), "a link-down line")
            tries = fleet_of(cfg)["fleet"]["tries"]
            wait_for(lambda: fleet_of(cfg)["fleet"]["tries"] >= tries + 3, "three more tries")
            assert fleet_of(cfg)["fleet"]["connected"] is False
            hub.start()
            wait_for(lambda: lines("up"), "a link-up line")
            wait_for(lambda: fleet_of(cfg)["fleet"]["connected"] is True, "connected again")
            tries = fleet_of(cfg)["fleet"]["tries"]
            wait_for(lambda: fleet_of(cfg)["fleet"]["tries"] >= tries + 3, "three more syncs")
    assert len(lines("down")) == 1 and len(lines("up")) == 1
    assert lines("down")[0].levelno == logging.WARNING


def test_a_kiosk_without_the_enrolment_role_refuses_enrolments_and_deletions(hub_for, tmp_path, model_dir):
    hub = hub_for({"lobby": []})
    Kiosk(tmp_path, "lobby", hub)
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = service_cfg(tmp_path, vpad, model_dir, "lobby")
        with running(cfg):
            with pytest.raises(ApiError) as refused:
                http_client(cfg).delete("bob")
            assert refused.value.status == 403 and "no enrolment role" in str(refused.value)
            with ServiceClient(cfg.socket) as c:
                answer, deleted = c.enrol("bob"), c.delete("bob")
            assert answer["event"] == "error" and "no enrolment role" in answer["error"], answer
            assert deleted["event"] == "error" and "no enrolment role" in deleted["error"], deleted
            assert fleet_of(cfg)["fleet"]["outbox"] == 0


def test_the_services_enrolment_and_deletion_reach_the_fleet_and_it_locks_sooner_offline(hub_for, tmp_path,
                                                                                          model_dir):
    hub = hub_for({"svc": ALL, "k2": ALL})
    Kiosk(tmp_path, "svc", hub)
    k2 = Kiosk(tmp_path, "k2", hub)
    carol = make_writer(7_000_000_033)
    genuine = sig_files(tmp_path, "carol", [carol.genuine(9)])[0]
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = service_cfg(tmp_path, vpad, model_dir)             # lockout after 5; offline after 2
        with running(cfg):
            with http_client(cfg).stream() as events, ServiceClient(cfg.socket) as c:
                enrolling = ThreadPoolExecutor(1).submit(c.enrol, "carol")
                for i in range(6):
                    events.until("prompt")
                    vpad.sign(carol.genuine(i))
                assert enrolling.result(120)["event"] == "enrolled"
            wait_for(lambda: sent(cfg), "the service's enrolment at the hub")
            assert k2.run("sync")["applied"] == 1
            assert k2.run("verify", "carol", "--file", genuine, "--model", str(model_dir))["accepted"] is True

            hub.stop()                                           # cut off: 2 failures lock carol here
            wait_for(lambda: fleet_of(cfg)["fleet"]["connected"] is False, "the link down")
            for i in range(2):
                assert verify_at_service(cfg, vpad, "carol", EVE.genuine(i))["reason"] == "no-match"
            with ServiceClient(cfg.socket) as c:
                assert c.verify("carol")["reason"] == "locked-out"
                assert c.delete("carol")["deleted"] is True
            assert fleet_of(cfg)["fleet"]["outbox"] >= 4             # 3 decisions and a tombstone, kept
            hub.start()
            wait_for(lambda: sent(cfg), "the outbox sent once the hub is back")
    assert k2.run("sync")["deleted"] == 1
    assert k2.run("verify", "carol", "--file", genuine, "--model", str(model_dir))["reason"] == "unknown-user"


def test_an_enrolment_on_the_services_pad_is_rederivable_under_a_new_model(hub_for, tmp_path, model_dir):
    """The service's fleet record carries the signatures signed on its pad: ``rederive`` makes
    the user's templates under another model from them (nobody listed to sign again), and a
    kiosk on that model accepts the user."""
    from edge_cases import model_dir_for
    hub = hub_for({"svc": ALL, "ops": ["enrol", "models"]})
    Kiosk(tmp_path, "svc", hub)
    ops = Kiosk(tmp_path, "ops", hub)
    dave = make_writer(7_000_000_044)
    with VirtualPad("sigpad", speed=16.0, caps=PAD) as vpad:
        cfg = service_cfg(tmp_path, vpad, model_dir)
        with running(cfg):
            with http_client(cfg).stream() as events, ServiceClient(cfg.socket) as c:
                enrolling = ThreadPoolExecutor(1).submit(c.enrol, "dave")
                for i in range(6):
                    events.until("prompt")
                    vpad.sign(dave.genuine(i))
                assert enrolling.result(120)["event"] == "enrolled"
            wait_for(lambda: sent(cfg), "the service's enrolment at the hub")
    new_model = model_dir_for(False)                 # another sha stands in for a new model
    done = ops.run("rederive", "--model", str(new_model))
    assert done["_rc"] == 0 and done["without_signatures"] == [] and done["refused"] == [], done
    assert done["rederived"] == 1, done
    probe = sig_files(tmp_path, "dave-probe", [dave.genuine(9)])[0]
    assert ops.run("verify", "dave", "--file", probe, "--model", str(new_model))["accepted"] is True
