"""Ports: exclusive opening, who holds a port, whether a user may open it.

A second reader on one pad used to split its stream silently (a verify while
``serve`` held the port scored 0.782 against 0.908). Now the port is locked
(pyserial's ``exclusive=True``) and the second open names the holder. The
holder here is a real second process on the virtual pad's real pty.
"""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.errors import PortBusy, TransportError
from firmware_bridge.pad import open_pad
from firmware_bridge.port_access import Identity, access_fix
from firmware_bridge.ports import by_id_links, list_ports
from firmware_bridge.transport import Transport
from firmware_bridge.virtual import VirtualPad

ROOT = Path(__file__).resolve().parents[2]
HOLD = ("import sys; from firmware_bridge.transport import Transport; t = Transport(sys.argv[1]); "
        "t.open(); print('open', flush=True); sys.stdin.read()")


@pytest.fixture
def held_pad():
    """(virtual pad, the process that holds its port open and locked)."""
    with VirtualPad("sigpad") as vpad:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, vpad.path], cwd=ROOT, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout.readline().strip() == "open"
            yield vpad, holder
        finally:
            holder.stdin.close()
            holder.wait(10)


def test_a_second_open_fails_naming_the_holder(held_pad):
    vpad, holder = held_pad
    with pytest.raises(PortBusy) as caught:
        Transport(vpad.path).open()
    message = str(caught.value)
    assert caught.value.pids == (holder.pid,)
    assert f"in use by PID {holder.pid} (" in message and "firmware_bridge.transport" in message
    assert "systemctl stop sigpad" in message
    with pytest.raises(PortBusy):          # through the pad API too, as the CLI opens it
        open_pad(vpad.path, "sigpad", reconnect=False)


def test_the_port_is_free_again_once_the_holder_is_gone(held_pad):
    vpad, holder = held_pad
    holder.stdin.close()
    holder.wait(10)
    t = Transport(vpad.path)
    t.open()
    t.close()


def test_ports_lists_a_named_port_and_its_holder(held_pad):
    vpad, holder = held_pad
    info = list_ports([vpad.path])[0]
    assert info.device == vpad.path and info.path == os.path.realpath(vpad.path)
    assert info.exists and info.usb_id is None and info.looks_like == ()
    assert [(h.pid, h.lock) for h in info.held_by] == [(holder.pid, True)] and info.in_use
    d = info.to_dict()
    assert d["in_use"] is True and d["held_by"][0]["pid"] == holder.pid


def test_a_free_port_is_not_in_use():
    with VirtualPad("sigpad") as vpad:   # the pad's own end is this process: not a holder
        info = list_ports([vpad.path])[0]
    assert not info.in_use and info.held_by == ()


def test_by_id_names(tmp_path):
    (tmp_path / "usb-Raspberry_Pi_Pico_E6614-if00").symlink_to("/dev/null")
    assert by_id_links(tmp_path) == {"/dev/null": str(tmp_path / "usb-Raspberry_Pi_Pico_E6614-if00")}
    assert by_id_links(tmp_path / "absent") == {}


def _stat(mode: int, uid: int, gid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFCHR | mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))


@pytest.fixture(scope="module")
def a_group():
    g = grp.getgrall()[0]
    return g.gr_gid, g.gr_name


def test_access_as_the_owner_a_member_root_and_a_stranger(a_group):
    gid, name = a_group
    port = _stat(0o660, uid=0, gid=gid)
    assert access_fix(port, Identity(0, frozenset(), "root"), []) == (True, name, None)
    assert access_fix(port, Identity(1000, frozenset({gid}), "alice"), [])[0] is True
    ok, group, fix = access_fix(port, Identity(1000, frozenset({5000}), "alice"), [])
    assert (ok, group) == (False, name)
    assert fix == f"add alice to group {name}: sudo usermod -aG {name} alice, then log in again"


def test_access_of_a_member_whose_session_predates_it(a_group):
    gid, name = a_group
    ok, _, fix = access_fix(_stat(0o660, 0, gid), Identity(1000, frozenset(), "alice"), ["alice"])
    assert not ok and "log out and in again" in fix and f"newgrp {name}" in fix


def test_opening_a_missing_port_says_so():
    with pytest.raises(TransportError, match="no such port .*sigpad ports"):
        Transport("/dev/no-such-tty-here").open()


def test_auto_for_a_pad_without_usb_id_explains():
    with pytest.raises(TransportError) as caught:
        open_pad("auto", "isdv4")
    assert "isdv4 pads have none" in str(caught.value) and "name the port" in str(caught.value)
