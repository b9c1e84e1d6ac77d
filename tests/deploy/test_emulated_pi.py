"""The real bundle on an arm64 Debian bookworm root, run under QEMU user emulation.

No Pi here, and no binfmt_misc: the root's own aarch64 Python runs as
``chroot ROOT qemu-aarch64-static ...`` (a static QEMU copied into the root).
The root is the minimum the installer and sigpad need (python3, libstdc++,
base-passwd), unpacked by ``mmdebstrap --variant=extract`` (no maintainer
scripts to emulate) and cached as a tarball in .cache/pi-rootfs. It gets a
Cortex-A72 /proc/cpuinfo and /sys/devices/system/cpu as plain files, since
/proc and /sys are not mounted in it: ai-edge-litert would otherwise read
the host's x86 ones (a real Pi needs none of this), and QEMU_CPU=cortex-a72
makes the emulated CPU a Pi 4's.

Then: install.sh --root, ``sigpad enroll``/``verify --file`` with SVC2004
files (copied into the throwaway root only; Task2 has pressure, Task1 has
none, so each pad kind gets its own installed model), and ``sigpad serve``
with the virtual pad's pty bound to /dev/sigpad: READY=1 and WATCHDOG=1
arrive on a notify socket, and a ``verify`` over the control socket gets a
decision.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO, B, require, require_root

pytestmark = pytest.mark.slow

SUITE = "bookworm"
PACKAGES = ["python3", "libstdc++6", "base-passwd"]
CACHE = REPO / ".cache" / "pi-rootfs"
DATA = REPO.parent / "shared" / "data" / "svc2004" / "Task2"
QEMU_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "QEMU_CPU": "cortex-a72"}
EMU = "/usr/libexec/sigpad-test-qemu"


def rootfs_tarball() -> Path:
    key = hashlib.sha256(" ".join([SUITE, "arm64", *PACKAGES]).encode()).hexdigest()[:12]
    tar = CACHE / f"{SUITE}-arm64-{key}.tar"
    if not tar.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        part = tar.with_suffix(".part.tar")
        subprocess.run(["mmdebstrap", "--quiet", "--variant=extract", "--mode=root", "--arch=arm64",
                        "--include=" + ",".join(PACKAGES), SUITE, str(part)],
                       check=True, timeout=900)
        part.rename(tar)
    return tar


def fake_pi_cpu(root: Path) -> None:
    """A Raspberry Pi 4's cpuinfo and cpu sysfs, as plain files in the root."""
    blocks = [f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
              f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
              f"CPU part\t: 0xd08\nCPU revision\t: 3\n" for i in range(4)]
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/cpuinfo").write_text("\n".join(blocks) + "\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
    cpu = root / "sys/devices/system/cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpu / name).write_text("0-3\n")
    for i in range(4):
        for rel, text in (("cpufreq/cpuinfo_max_freq", "1800000"), ("cpufreq/cpuinfo_min_freq", "600000"),
                          ("topology/physical_package_id", "0"), ("topology/core_id", str(i)),
                          ("topology/core_siblings_list", "0-3"), ("topology/thread_siblings_list", str(i))):
            (cpu / f"cpu{i}" / rel).parent.mkdir(parents=True, exist_ok=True)
            (cpu / f"cpu{i}" / rel).write_text(text + "\n")


def passwd_ids(root: Path, name: str, group_file: bool = False) -> int:
    path = root / ("etc/group" if group_file else "etc/passwd")
    for line in path.read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return int(f[2])
    raise AssertionError(f"{name} not in {path}")


@pytest.fixture(scope="module")
def pi(tmp_path_factory):
    """An arm64 root with the real bundle installed; its timings."""
    require_root()
    require("mmdebstrap", "qemu-aarch64-static", "chroot", "unshare", "mount")
    # SIGPAD_TEST_MODELS: another models folder, for work before a model ships.
    models = Path(os.environ.get("SIGPAD_TEST_MODELS", REPO / "edge" / "models"))
    if not list(models.glob("*/manifest.json")):
        pytest.skip(f"no shipped model in {models}")
    times = {}
    t = time.monotonic()
    tar = rootfs_tarball()
    times["rootfs_s"] = time.monotonic() - t

    t = time.monotonic()
    bundle, meta = B.build(tmp_path_factory.mktemp("dist"), ["3.11", "3.13"], True, REPO / ".cache" / "wheels",
                         models)
    times["bundle_s"] = time.monotonic() - t

    root = tmp_path_factory.mktemp("pi") / "root"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(tar), "-C", str(root)], check=True)
    # base-passwd's postinst (not run by the extract variant) would make these.
    for name in ("passwd", "group"):
        shutil.copy(root / f"usr/share/base-passwd/{name}.master", root / f"etc/{name}")
    fake_pi_cpu(root)

    t = time.monotonic()
    proc = subprocess.run(["bash", str(bundle / "install.sh"), "--root", str(root), "--emulator",
                           "qemu-aarch64-static", "--no-compile"],
                          capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "QEMU_CPU": "cortex-a72"})
    times["install_s"] = time.monotonic() - t
    assert proc.returncode == 0, f"install.sh failed:\n{proc.stdout}\n{proc.stderr}"
    shutil.copy(shutil.which("qemu-aarch64-static"), root / EMU.lstrip("/"))
    decisions = {}
    yield {"root": root, "bundle": bundle, "meta": meta, "times": times, "install_out": proc.stdout,
           "decisions": decisions,
           "uid": passwd_ids(root, "sigpad"), "gid": passwd_ids(root, "sigpad", True),
           "dialout": passwd_ids(root, "dialout", True)}
    print(f"\nemulated Pi timings: {json.dumps({k: round(v, 1) for k, v in times.items()})}, "
          f"bundle {meta['size_bytes'] / 1e6:.1f} MB; decisions: {json.dumps(decisions)}")


def in_pi(pi, *args: str, timeout: float = 300, user: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run the root's aarch64 sigpad CLI, as user sigpad, under QEMU."""
    spec = [f"--userspec={pi['uid']}:{pi['gid']}", f"--groups={pi['dialout']}"] if user else []
    cmd = ["chroot", *spec, str(pi["root"]), EMU, "/opt/sigpad/bin/python", "/opt/sigpad/bin/sigpad",
           *args, "--config", "/etc/sigpad/sigpad.toml"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=QEMU_ENV, **kw)


def test_installed_venv_is_aarch64_python_3_11(pi):
    root = pi["root"]
    python = root / "usr/bin/python3.11"
    header = python.read_bytes()[:20]
    assert header[4] == 2 and int.from_bytes(header[18:20], "little") == 183, "an aarch64 ELF"
    assert "version = 3.11" in (root / "opt/sigpad/pyvenv.cfg").read_text()
    assert list((root / "opt/sigpad/lib/python3.11/site-packages").glob("ai_edge_litert*"))
    assert sorted(pi["meta"]["python"]) == ["3.11", "3.13"]
    assert any("cp313" in w for w in pi["meta"]["wheels"]) and any("cp311" in w for w in pi["meta"]["wheels"])
    assert "installed in /opt/sigpad" in pi["install_out"]


def test_rerun_is_idempotent_on_the_pi(pi):
    t = time.monotonic()
    proc = subprocess.run(["bash", str(pi["bundle"] / "install.sh"), "--root", str(pi["root"]),
                           "--emulator", "qemu-aarch64-static", "--no-compile"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **QEMU_ENV})
    pi["times"]["rerun_s"] = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr
    assert "is installed already" in proc.stdout


@pytest.fixture(scope="module")
def enrolled(pi):
    if not (DATA / "U1S1.TXT").exists():
        pytest.skip(f"no SVC2004 data in {DATA}")
    data = pi["root"] / "tmp/svc"  # the throwaway root only: research data never ships
    data.mkdir(parents=True, exist_ok=True)
    for i in range(1, 8):
        shutil.copy(DATA / f"U1S{i}.TXT", data)
    t = time.monotonic()
    proc = in_pi(pi, "enroll", "u1", "--json", "--file", *[f"/tmp/svc/U1S{i}.TXT" for i in range(1, 7)])
    pi["times"]["enroll_s"] = time.monotonic() - t
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["enrolled"] is True
    return pi


def test_verify_file_on_the_emulated_pi(enrolled):
    t = time.monotonic()
    proc = in_pi(enrolled, "verify", "u1", "--json", "--file", "/tmp/svc/U1S7.TXT")
    enrolled["times"]["verify_s"] = time.monotonic() - t
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2 would mean no decision
    decision = json.loads(proc.stdout.splitlines()[-1])
    enrolled["decisions"]["verify_file"] = {k: decision[k] for k in ("accepted", "score", "reason")}
    assert decision["user"] == "u1" and decision["score"] is not None
    assert decision["reason"] in ("match", "no-match"), decision
    store = enrolled["root"] / "var/lib/sigpad/templates.db"
    assert store.stat().st_uid == enrolled["uid"], "the CLI ran as the service's user"


def test_a_pad_without_pressure_on_the_emulated_pi(enrolled):
    """Task1 has no pressure (a Topaz-like pad): the Pi's no_pressure model takes it,
    and u1 (Task2, with pressure) stays on the pressure model; nobody looks stale."""
    pi = enrolled
    if "no_pressure" not in pi["meta"]["models"]:
        pytest.skip("the models under test have no no_pressure model")
    data = pi["root"] / "tmp/svc1"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(1, 8):
        shutil.copy(DATA.parent / "Task1" / f"U1S{i}.TXT", data)
    proc = in_pi(pi, "enroll", "t1", "--json", "--file", *[f"/tmp/svc1/U1S{i}.TXT" for i in range(1, 7)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = in_pi(pi, "verify", "t1", "--json", "--file", "/tmp/svc1/U1S7.TXT")
    decision = json.loads(proc.stdout.splitlines()[-1])
    pi["decisions"]["verify_no_pressure"] = {k: decision[k] for k in ("accepted", "score", "reason")}
    assert decision["reason"] in ("match", "no-match"), decision  # judged, not refused
    proc = in_pi(pi, "users", "--json")
    rows = {u["user"]: u for u in json.loads(proc.stdout.splitlines()[-1])["users"]}
    assert rows["t1"]["model_sha256"] == pi["meta"]["models"]["no_pressure"]
    assert rows["u1"]["model_sha256"] == pi["meta"]["models"]["pressure"]
    assert not any(r["needs_reenrolment"] for r in rows.values())


def test_serve_with_the_virtual_pad(enrolled, tmp_path):
    pi, root = enrolled, enrolled["root"]
    # U1S8, not U1S7: the verify test's signature would (rightly) be refused as a
    # replay. --interval 3: the capture ends a signature after a 1.5 s pen lift.
    # --speed 1: a faster replay changes the dynamics the model scores (it rejects).
    vpad = subprocess.Popen([sys.executable, "-m", "firmware_bridge.virtual", "--protocol", "isdv4",
                             "--file", str(DATA / "U1S8.TXT"), "--loop", "--interval", "3", "--speed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    serve = None
    try:
        tty = os.path.realpath(vpad.stdout.readline().strip())
        assert tty.startswith("/dev/pts/"), tty
        # What the udev rule does on a Pi: group dialout, 0660, at /dev/sigpad.
        os.chown(tty, -1, pi["dialout"])  # the root's dialout gid; a bind mount shows it as is
        os.chmod(tty, 0o660)
        (root / "dev").mkdir(exist_ok=True)
        (root / "dev/sigpad").touch()
        (root / "run").mkdir(exist_ok=True)
        sock_path = root / "run/notify.sock"
        sock_path.unlink(missing_ok=True)
        notify.bind(str(sock_path))
        os.chmod(sock_path, 0o666)
        notify.settimeout(1.0)
        runtime = root / "run/sigpad"
        runtime.mkdir(exist_ok=True)
        os.chown(runtime, pi["uid"], pi["gid"])
        spec = f"--userspec={pi['uid']}:{pi['gid']} --groups={pi['dialout']}"
        env = " ".join(f"{k}={v}" for k, v in {**QEMU_ENV, "NOTIFY_SOCKET": "/run/notify.sock",
                                               "WATCHDOG_USEC": "4000000", "RUNTIME_DIRECTORY": "/run/sigpad",
                                               "STATE_DIRECTORY": "/var/lib/sigpad"}.items())
        # A private mount namespace: the bind mount disappears with the process.
        script = (f"mount --bind {tty} {root}/dev/sigpad && exec env -i {env} chroot {spec} {root} {EMU} "
                  "/opt/sigpad/bin/python /opt/sigpad/bin/sigpad serve --config /etc/sigpad/sigpad.toml "
                  "--protocol isdv4 --http 127.0.0.1:0")
        t = time.monotonic()
        serve = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        states = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "WATCHDOG=1" not in states:
            assert serve.poll() is None, f"serve exited {serve.returncode}: {serve.communicate()[1][-2000:]}"
            try:
                states += notify.recv(4096).decode().splitlines()
            except TimeoutError:
                continue
            if any(s == "READY=1" for s in states) and "ready_s" not in pi["times"]:
                pi["times"]["ready_s"] = time.monotonic() - t
        assert "READY=1" in states and "WATCHDOG=1" in states, states

        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.settimeout(120)
        control.connect(str(runtime / "control.sock"))
        control.sendall(b'{"cmd": "verify", "user": "u1"}\n')
        events, buf = [], b""
        while not any(e.get("event") in ("decision", "error") for e in events):
            chunk = control.recv(4096)
            assert chunk, f"control socket closed; events {events}"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            events += [json.loads(line) for line in lines if line.strip()]
        control.sendall(b"status\n")        # the web API runs on the Pi's aarch64 wheels too
        while b"\n" not in buf:
            buf += control.recv(65536)
        status = json.loads(buf.split(b"\n")[0])
        with urllib.request.urlopen(status["url"] + "v1/status", timeout=60) as resp:
            assert json.load(resp)["api"] == 1
        control.close()
        final = events[-1]
        pi["decisions"]["serve"] = {k: final.get(k) for k in ("accepted", "score", "reason")}
        assert final["event"] == "decision", events
        assert final["user"] == "u1" and final["score"] is not None, f"{final['reason']}: {final['detail']}"
        assert final["reason"] in ("match", "no-match"), final  # judged, not refused unheard

        serve.terminate()
        _, err = serve.communicate(timeout=60)
        assert serve.returncode == 0, err[-2000:]
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
        vpad.terminate()
        vpad.wait(timeout=10)
        notify.close()


def test_bundle_installs_offline_on_python_3_13_too(pi, tmp_path):
    """trixie's Python: every wheel of sigpad[edge] is in the bundle (resolved here, not run)."""
    bundle = pi["bundle"]
    wheel = next((bundle / "wheels").glob("sigpad-*.whl"))
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
           "--only-binary=:all:", "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313",
           *[a for t in B.platform_tags("3.13") for a in ("--platform", t)], "--target", str(tmp_path / "t"),
           "--no-index", "--find-links", str(bundle / "wheels"), f"{wheel}[edge]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
