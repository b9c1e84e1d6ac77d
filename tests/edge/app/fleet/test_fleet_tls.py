"""TLS to the hub: ``init``'s CA and certificate, the kiosks' pin, a hub that is not the fleet's.

Real nats-server hubs on loopback with ``tls {}`` from ``init_fleet``; the
one fake server stands for someone in between who offers no TLS.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import stat
import threading

import pytest
from fleet_harness import Kiosk, creds_of, open_link, signatures

from edge.app.fleet.hubtls import write_hub_tls
from edge.errors import FleetError

pytestmark = [pytest.mark.slow]
WAIT_S = 60.0           # generous: a busy machine answers slowly


def last_seq(creds):
    async def go():
        link = await open_link(creds)
        try:
            return await link.last_seq("KV_sigpad_templates")
        finally:
            await link.close()
    return asyncio.run(go())


@pytest.mark.data
def test_enrol_at_one_verify_at_the_other_over_tls(hub_for, tmp_path, task2):
    hub = hub_for({"k1": ["enrol"], "k2": []}, tls=True)
    conf = (tmp_path / "hub" / "hub.conf").read_text()
    assert hub.url.startswith("tls://") and "tls {" in conf and "hub.crt" in conf
    for path in (tmp_path / "hub" / "tls" / "hub.key", hub.creds("k1")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list((tmp_path / "hub").rglob("ca.key"))           # the CA's key is not kept
    k1, k2 = Kiosk(tmp_path, "k1", hub), Kiosk(tmp_path, "k2", hub)
    assert "BEGIN CERTIFICATE" in json.loads((k2.store.parent / "fleet" / "fleet.json").read_text())["ca_cert"]
    enrolled = k1.enrol("alice", signatures(task2, 1, range(1, 7)))
    assert enrolled["_rc"] == 0 and enrolled["synced"], enrolled["_stderr"]
    decision = k2.verify("alice", task2 / "U1S9.TXT")
    assert decision["accepted"], decision
    assert "eof_received" not in enrolled["_stderr"] + decision["_stderr"]    # asyncio's TLS noise, filtered
    assert k2.run("status")["connected"]


@pytest.mark.data
def test_a_hub_with_another_cas_certificate_is_refused_and_nothing_is_synced(hub_for, tmp_path, task2):
    hub = hub_for({"k1": ["enrol"], "k2": []}, tls=True)
    k1, k2 = Kiosk(tmp_path, "k1", hub), Kiosk(tmp_path, "k2", hub)
    assert k1.enrol("alice", signatures(task2, 1, range(1, 7)))["synced"]
    # The hub now shows a certificate for the same address from another CA (an impostor's).
    other = write_hub_tls(tmp_path / "impostor", ["127.0.0.1"])
    hub.stop()
    shutil.copyfile(other.cert_file, tmp_path / "hub" / "tls" / "hub.crt")
    shutil.copyfile(other.key_file, tmp_path / "hub" / "tls" / "hub.key")
    hub.start()
    synced = k2.run("sync")
    assert synced["_rc"] != 0 and not synced["synced"]
    assert "TLS" in synced["error"] and "certificate" in synced["error"], synced
    assert k2.run("status")["revision"] == 0
    assert k2.verify("alice", task2 / "U1S9.TXT")["reason"] == "unknown-user"   # nothing reached k2
    with pytest.raises(FleetError, match="TLS"):
        last_seq(creds_of(k1))


def test_a_plain_text_client_cannot_talk_to_a_tls_hub(hub_for, tmp_path):
    hub = hub_for({"k1": []}, tls=True)
    creds = json.loads(hub.creds("k1").read_text())
    with socket.create_connection(("127.0.0.1", hub.port), timeout=WAIT_S) as s:
        info = s.makefile("rb").readline()
        assert json.loads(info.split(b" ", 1)[1])["tls_required"] is True
        connect = {"nkey": creds["nkey"], "verbose": False, "pedantic": False}
        s.sendall(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        answer = b""
        while chunk := s.recv(4096):                # the hub closes the connection
            answer += chunk
    assert b"PONG" not in answer
    # nats-py without the fleet's CA (the system's CAs): refused, saying TLS.
    kiosk = Kiosk(tmp_path, "k1", hub)
    unpinned = creds_of(kiosk).__class__(hub.url, "k1", creds["nkey_seed"])
    with pytest.raises(FleetError, match="TLS"):
        last_seq(unpinned)


def test_a_kiosk_pinning_the_ca_sends_nothing_to_a_server_without_tls(tmp_path):
    pytest.importorskip("nats")
    from edge.app.fleet.link import Credentials
    from edge.app.fleet.nkeyid import new_identity
    ca = write_hub_tls(tmp_path / "fleet", ["127.0.0.1"]).ca_pem
    seed, nkey = new_identity()
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT_S)
        port = server.getsockname()[1]

        def plain_hub() -> None:                     # INFO without tls_required, then listen
            conn, _ = server.accept()
            with conn:
                conn.settimeout(WAIT_S)
                conn.sendall(b'INFO {"server_id":"x","version":"2.9.10","auth_required":true,"nonce":"abc"}\r\n')
                while chunk := conn.recv(4096):
                    received.append(chunk)
        thread = threading.Thread(target=plain_hub, daemon=True)
        thread.start()
        with pytest.raises(FleetError, match="offers no TLS"):
            last_seq(Credentials(f"tls://127.0.0.1:{port}", "k1", seed, ca))
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert nkey.encode() not in b"".join(received) and b"CONNECT" not in b"".join(received)


def test_init_is_tls_by_default_for_the_urls_host_and_more_names(tmp_path):
    from cryptography import x509

    from edge.app.cli import main
    out = tmp_path / "ops"
    assert main(["fleet", "init", "--out", str(out), "--kiosks", "k1", "--listen", "0.0.0.0:4222",
                 "--url", "tls://hub.example:4222", "--tls-host", "10.0.0.5,hub", "--json"]) == 0
    assert "tls {" in (out / "hub.conf").read_text()
    creds = json.loads((out / "creds" / "k1.json").read_text())
    assert creds["url"] == "tls://hub.example:4222" and "BEGIN CERTIFICATE" in creds["ca_cert"]
    cert = x509.load_pem_x509_certificate((out / "tls" / "hub.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in names] == ["hub.example", "10.0.0.5", "hub"]
    plain = tmp_path / "plain"
    assert main(["fleet", "init", "--out", str(plain), "--kiosks", "k1", "--no-tls", "--json"]) == 0
    assert "tls {" not in (plain / "hub.conf").read_text()
    assert "ca_cert" not in json.loads((plain / "creds" / "k1.json").read_text())
