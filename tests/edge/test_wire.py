"""The control socket's protocol (``edge.wire``): where, the framing, whom to trust.

The framing is checked against lines written out by hand, the token proof
against RFC 4231's HMAC-SHA256 test case, the trust checks on real sockets
and directories of this user; the last tests run ``ServiceClient`` against a
small server speaking the protocol from this module alone.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from edge import wire
from edge.client import ServiceClient
from edge.errors import ServiceError
from edge.wire import Peer

# --- framing ------------------------------------------------------------------------------


def test_a_message_is_one_json_line():
    assert wire.encode({"cmd": "verify", "user": "alice"}) == b'{"cmd": "verify", "user": "alice"}\n'
    assert wire.encode({"event": "prompt", "message": "sign now"}) == \
        b'{"event": "prompt", "message": "sign now"}\n'
    assert wire.encode({"user": "j\u00f6rg"}) == b'{"user": "j\\u00f6rg"}\n'   # ASCII on the wire
    assert wire.encode("verify alice") == b"verify alice\n"                    # written out already


def test_an_answer_line_is_a_json_object():
    assert wire.decode(b'{"event": "pong"}\n') == {"event": "pong"}
    assert wire.decode(b'{"event": "users", "users": [{"user": "a"}]}') == \
        {"event": "users", "users": [{"user": "a"}]}
    for bad in (b"[1, 2]\n", b'"pong"\n', b"pong\n", b"\n"):
        with pytest.raises(ValueError):
            wire.decode(bad)


def test_requests_are_json_or_words():
    assert wire.parse_request("verify alice\n") == {"cmd": "verify", "user": "alice"}
    assert wire.parse_request("ENROL bob replace") == {"cmd": "enrol", "user": "bob", "replace": True}
    assert wire.parse_request("enrol bob again") == {"cmd": "enrol", "user": "bob"}
    assert wire.parse_request('{"cmd": "users"}') == {"cmd": "users"}
    assert wire.decode_request(b'  {"cmd": "delete", "user": "x"}\n') == {"cmd": "delete", "user": "x"}
    for bad in ("", "   ", '{"user": "a"}', '{"cmd": 3}', "{nonsense"):
        with pytest.raises(ValueError):
            wire.parse_request(bad)
    with pytest.raises(ValueError):                     # not UTF-8: UnicodeDecodeError is a ValueError
        wire.decode_request(b"verify \xff\n")


def test_which_events_answer_a_request():
    assert wire.is_final({"event": "decision", "accepted": False})
    assert wire.is_final({"event": "error", "error": "busy"})
    assert not wire.is_final({"event": "prompt", "message": "sign now"})
    assert not wire.is_final({"event": "ink"}) and not wire.is_final({})


# --- where --------------------------------------------------------------------------------------


def test_the_runtime_directory(monkeypatch):
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/sigpad:/run/other")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert wire.runtime_dir() == Path("/run/sigpad")                  # systemd's, the first of several
    monkeypatch.delenv("RUNTIME_DIRECTORY")
    assert wire.runtime_dir() == Path("/run/user/1000/sigpad")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert wire.runtime_dir() == Path(f"/tmp/sigpad-{os.getuid()}")


def test_where_the_service_listens(monkeypatch, tmp_path):
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    assert wire.service_socket() == tmp_path / "control.sock"
    assert wire.service_socket(tmp_path / "other.sock") == tmp_path / "other.sock"


def test_where_a_client_looks(monkeypatch, tmp_path):
    mine, installed = tmp_path / "mine", tmp_path / "installed"
    mine.mkdir()
    installed.mkdir()
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(mine))
    monkeypatch.setattr(wire, "INSTALLED_SOCKET", installed / "control.sock")
    assert wire.find_socket(tmp_path / "given.sock") == tmp_path / "given.sock"
    assert wire.find_socket() == mine / "control.sock"                 # neither there: where ours would be
    (installed / "control.sock").touch()
    assert wire.find_socket() == installed / "control.sock"            # only the installed service's
    (mine / "control.sock").touch()
    assert wire.find_socket() == mine / "control.sock"                 # both: this user's own


# --- whom to trust --------------------------------------------------------------------------------


def test_the_kernel_names_the_peer():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        peer = wire.peer_of(a)
    assert peer == Peer(os.getpid(), os.getuid(), os.getgid())
    assert str(peer) == f"pid {os.getpid()} uid {os.getuid()} gid {os.getgid()}"


def test_a_client_trusts_root_itself_and_the_service_user():
    assert {0, os.geteuid()} <= wire.trusted_service_uids()
    me = Peer(1, os.geteuid(), os.getegid())
    wire.check_service_peer(me, Path("/x.sock"))
    with pytest.raises(ServiceError, match=r"/x.sock: the process behind it \(pid 1 uid"):
        wire.check_service_peer(me, Path("/x.sock"), trusted={os.geteuid() + 1})


def test_who_may_write():
    me, other = os.geteuid(), os.geteuid() + 1
    assert wire.may_write(Peer(1, me, 1), None)
    assert wire.may_write(Peer(1, 0, 0), None)
    assert not wire.may_write(Peer(1, other, 4242), None)
    assert wire.may_write(Peer(1, other, 4242), 4242)                  # the writers' group as its group
    assert not wire.may_write(Peer(1, other, 4243), 4242)


def test_supplementary_groups_from_proc():
    assert wire.supplementary_groups(os.getpid()) == set(os.getgroups())
    assert wire.supplementary_groups(2**22 + 1) == set()               # no such process


def test_the_socket_directory_must_be_ours_alone(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    wire.check_private_dir(d)
    with pytest.raises(ServiceError, match="owned by uid"):
        wire.check_private_dir(d, owner=os.geteuid() + 1)
    d.chmod(0o770)
    with pytest.raises(ServiceError, match="mode 0770 lets others write"):
        wire.check_private_dir(d)
    d.chmod(0o700)
    (tmp_path / "link").symlink_to(d)
    with pytest.raises(ServiceError, match="not a directory"):
        wire.check_private_dir(tmp_path / "link")
    with pytest.raises(ServiceError, match="No such file"):
        wire.check_private_dir(tmp_path / "missing")


def test_the_token_file_must_be_ours_and_0600(tmp_path):
    token = tmp_path / "http.token"
    token.write_text("x" * 64)
    token.chmod(0o600)
    wire.check_private_file(token)
    token.chmod(0o640)
    with pytest.raises(ServiceError, match="mode 0600"):
        wire.check_private_file(token)
    with pytest.raises(ServiceError, match="regular file"):
        wire.check_private_file(tmp_path)


def test_the_token_proof_is_hmac_sha256():
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    proof = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert wire.token_proof("Jefe", "what do ya want for nothing?") == proof
    assert wire.proves_token(proof, "Jefe", "what do ya want for nothing?")
    assert not wire.proves_token(proof, "Jefe", "another nonce")
    assert not wire.proves_token("", "Jefe", "what do ya want for nothing?")
    assert wire.same_token("a" * 64, "a" * 64)
    assert not wire.same_token(None, "a" * 64) and not wire.same_token("a" * 63, "a" * 64)


# --- both ends ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_service(tmp_path):
    """A server that answers one request with a prompt and then a decision, in ``wire``'s framing."""
    path = tmp_path / "control.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    seen: list[dict] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:                 # closed at the end before this thread got to accept
            return
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                request = wire.decode_request(line)
                seen.append(request)
                conn.sendall(wire.encode({"event": "prompt", "message": "sign now"}))
                conn.sendall(wire.encode({"event": "decision", "user": request.get("user"), "accepted": False}))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, seen
    server.close()
    thread.join(5)


def test_the_client_speaks_the_wire(tiny_service):
    path, seen = tiny_service
    prompts = []
    with ServiceClient(path, timeout_s=10) as client:
        assert client.peer.uid == os.geteuid()
        answer = client.verify("alice", on_event=prompts.append, request_id="r1")
        assert answer == {"event": "decision", "user": "alice", "accepted": False}
        assert prompts == [{"event": "prompt", "message": "sign now"}]
        client.send("enrol bob replace")
        assert client.event()["event"] == "prompt"
    assert seen[0] == {"cmd": "verify", "user": "alice", "request_id": "r1"}
    assert seen[1] == {"cmd": "enrol", "user": "bob", "replace": True}


def test_the_client_will_not_talk_to_an_untrusted_peer(tiny_service):
    path, _ = tiny_service
    with pytest.raises(ServiceError, match="is not the sigpad service"):
        ServiceClient(path, timeout_s=10, trusted_uids={os.geteuid() + 1})
