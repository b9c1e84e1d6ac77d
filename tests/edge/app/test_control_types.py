"""The control socket takes fields of their documented types only (issue #23 item 10).

``{"cmd": "verify", "user": 5}`` used to arm a verify for "5", ``null`` one
for "None", and ``"replace": "false"`` a re-enrolment; each is now a bad
request naming the field, and nothing is armed. A one-process limit and a
reserve for the operator (the room rules) are checked on the server's own
bookkeeping.
"""

from __future__ import annotations

import pytest
from service_harness import running

from edge.app.config import Config
from edge.app.control import RESERVE, ControlServer
from edge.client import ServiceClient
from edge.wire import Peer


@pytest.fixture
def service(tmp_path, model_dir):
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="off")
    (tmp_path / "run").mkdir(mode=0o700)
    with running(cfg, wait_pad=False):
        yield cfg


@pytest.mark.parametrize(("request_", "field"), [
    ({"cmd": "verify", "user": 5}, "user"),
    ({"cmd": "verify", "user": None}, "user"),
    ({"cmd": "verify", "user": ["alice"]}, "user"),
    ({"cmd": "enrol", "user": "u31", "replace": "false"}, "replace"),
    ({"cmd": "enrol", "user": "u31", "replace": "no"}, "replace"),
    ({"cmd": "enrol", "user": "u31", "replace": [0]}, "replace"),
    ({"cmd": "delete", "user": 31}, "user"),
    ({"cmd": "verify", "user": "alice", "request_id": {"x": 1}}, "request_id"),
    ({"cmd": "history", "user": "alice", "last": [1]}, "last"),
])
def test_a_field_of_the_wrong_type_is_a_bad_request_naming_it(service, request_, field):
    with ServiceClient(service.socket) as c:
        answer = c.request(request_)
        assert answer["event"] == "error" and answer["error"].startswith(f"bad request: {field}:"), answer
        assert c.status()["busy"] is None


def server(max_clients: int) -> ControlServer:
    return ControlServer(hub=None, path=None, max_clients=max_clients, idle_timeout_s=1.0,  # type: ignore[arg-type]
                         writers_gid=None, model_shas=set)


def test_one_process_gets_a_quarter_and_the_operator_a_reserve():
    s = server(8)                               # a quarter of 8: 2 per process
    stranger, root = Peer(pid=100, uid=12345, gid=12345), Peer(pid=200, uid=0, gid=0)
    s.by_pid, s.clients = {100: 2}, 2
    assert "from this process (pid 100: 2)" in s._refusal(stranger)
    assert s._refusal(Peer(pid=101, uid=12345, gid=12345)) is None
    s.by_pid, s.clients = {n: 1 for n in range(8)}, 8           # full: strangers out, root in
    assert s._refusal(Peer(pid=101, uid=12345, gid=12345)) == "too many connections (8)"
    assert s._refusal(root) is None
    s.clients = 8 + RESERVE                                      # the reserve full too
    assert s._refusal(root) == "too many connections (8)"
