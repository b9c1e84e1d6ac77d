"""deploy/build_image.py on a small disk image the test builds itself.

A 'Raspberry Pi OS' with a FAT boot and an ext4 root partition, made with
sfdisk, mkfs.vfat --offset and mke2fs -E offset -d (no mounting, no loop
devices): the builder must put the bundle and an enabled first-boot unit into
the root, the editable config onto the boot partition, grow a root that is
too full, and refuse 32-bit images.
"""

from __future__ import annotations

import json
import lzma
import subprocess
import sys

import pytest

from .conftest import DEPLOY, make_bundle, require, sha256

SECTOR = 512
BOOT_START, BOOT_SECTORS = 2048, 32768  # 1 MiB offset, 16 MiB FAT
AARCH64_ELF = b"\x7fELF\x02\x01\x01" + bytes(11) + b"\xb7\x00" + bytes(44)
ARMHF_ELF = b"\x7fELF\x01\x01\x01" + bytes(11) + b"\x28\x00" + bytes(44)


@pytest.fixture(autouse=True)
def _tools():
    require("sfdisk", "mkfs.vfat", "mke2fs", "debugfs", "e2fsck", "resize2fs", "mcopy", "mtype")


def pi_image(path, size_mb, elf=AARCH64_ELF, tmp=None):
    """A two-partition image like Raspberry Pi OS's: FAT boot, ext4 root."""
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    root_start = BOOT_START + BOOT_SECTORS
    subprocess.run(["sfdisk", "-q", str(path)], check=True, text=True,
                   input=f"label: dos\nstart={BOOT_START}, size={BOOT_SECTORS}, type=c\nstart={root_start}, type=83\n")
    subprocess.run(["mkfs.vfat", "-n", "bootfs", "--offset", str(BOOT_START), str(path),
                    str(BOOT_SECTORS // 2)], check=True, capture_output=True)
    tree = tmp / "rootfs"
    for d in ("usr/bin", "etc/systemd/system", "boot/firmware", "opt"):
        (tree / d).mkdir(parents=True, exist_ok=True)
    (tree / "usr/bin/dpkg").write_bytes(elf)
    root_kb = ((size_mb << 20) - root_start * SECTOR) // 1024
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-L", "rootfs", "-E", f"offset={root_start * SECTOR}",
                    "-d", str(tree), str(path), f"{root_kb}k"], check=True)
    return path


def build(src, bundle, out):
    return subprocess.run([sys.executable, str(DEPLOY / "build_image.py"), "--image", str(src),
                           "--bundle", str(bundle), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)


def debugfs(img, offset, cmd):
    return subprocess.run(["debugfs", "-R", cmd, f"{img}?offset={offset}"],
                          capture_output=True, text=True, check=True).stdout


def check_image(out, bundle, result, tmp_path):
    off = result["root_offset"]
    dump = tmp_path / "dump"
    dump.mkdir()
    debugfs(out, off, f"rdump /opt/sigpad-bundle {dump}")
    copied = dump / "sigpad-bundle"
    subprocess.run(["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=copied, check=True)
    assert sha256(copied / "install.sh") == sha256(bundle / "install.sh")
    stat = debugfs(out, off, "stat /opt/sigpad-bundle/install.sh")
    assert "Mode:  0755" in stat and "User:     0" in stat
    link = debugfs(out, off, "stat /etc/systemd/system/multi-user.target.wants/sigpad-firstboot.service")
    assert 'Fast link dest: "/etc/systemd/system/sigpad-firstboot.service"' in link
    unit = debugfs(out, off, "cat /etc/systemd/system/sigpad-firstboot.service")
    assert unit == (DEPLOY / "sigpad-firstboot.service").read_text()
    fat = f"{out}@@{result['boot_offset']}"
    toml = subprocess.run(["mtype", "-i", fat, "::/sigpad/sigpad.toml"], capture_output=True, check=True).stdout
    assert toml.replace(b"\r\n", b"\n") == (bundle / "sigpad.toml").read_bytes()
    subprocess.run(["e2fsck", "-fn", f"{out}?offset={off}"], check=True, capture_output=True)


@pytest.mark.slow
def test_image_gets_bundle_firstboot_and_boot_config(tmp_path):
    src = pi_image(tmp_path / "raspios.img", 160, tmp=tmp_path)
    before = sha256(src)
    bundle = make_bundle(tmp_path / "bundle")
    proc = build(src, bundle, tmp_path / "sigpad.img")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["arch"] == "aarch64" and result["grown_bytes"] == 0
    check_image(tmp_path / "sigpad.img", bundle, result, tmp_path)
    assert sha256(src) == before, "the source image is left untouched"
    again = build(tmp_path / "sigpad.img", bundle, tmp_path / "twice.img")
    assert again.returncode == 1 and "already holds /opt/sigpad-bundle" in again.stderr


@pytest.mark.slow
def test_full_root_is_grown(tmp_path):
    src = pi_image(tmp_path / "raspios.img", 48, tmp=tmp_path)  # ~30 MB root: less than bundle + margin
    bundle = make_bundle(tmp_path / "bundle")
    proc = build(src, bundle, tmp_path / "sigpad.img")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["grown_bytes"] > 0
    out = tmp_path / "sigpad.img"
    assert out.stat().st_size > src.stat().st_size
    table = json.loads(subprocess.run(["sfdisk", "--json", str(out)], capture_output=True, check=True).stdout)
    last = table["partitiontable"]["partitions"][-1]
    assert (last["start"] + last["size"]) * SECTOR == out.stat().st_size
    check_image(out, bundle, result, tmp_path)


@pytest.mark.slow
def test_xz_image_is_read(tmp_path):
    src = pi_image(tmp_path / "raspios.img", 160, tmp=tmp_path)
    xz = tmp_path / "raspios.img.xz"
    with open(src, "rb") as f, lzma.open(xz, "wb", preset=0) as z:
        z.write(f.read())
    bundle = make_bundle(tmp_path / "bundle")
    proc = build(xz, bundle, tmp_path / "sigpad.img")
    assert proc.returncode == 0, proc.stderr


def test_32bit_image_is_refused(tmp_path):
    src = pi_image(tmp_path / "raspios-armhf.img", 64, elf=ARMHF_ELF, tmp=tmp_path)
    proc = build(src, make_bundle(tmp_path / "bundle"), tmp_path / "sigpad.img")
    assert proc.returncode == 1
    assert "32-bit Raspberry Pi OS (armhf)" in proc.stderr and "64-bit" in proc.stderr
    assert not (tmp_path / "sigpad.img").exists() and not (tmp_path / "sigpad.img.part").exists()
