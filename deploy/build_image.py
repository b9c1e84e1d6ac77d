#!/usr/bin/env python3
"""Write a Raspberry Pi OS image that installs sigpad on its first boot.

    python3 deploy/build_image.py --image 2024-11-19-raspios-bookworm-arm64-lite.img.xz \\
        --bundle dist/sigpad-bundle-0.1.0 --out sigpad.img

Then write ``sigpad.img`` to a card with Raspberry Pi Imager ("Use custom")
or ``dd if=sigpad.img of=/dev/sdX bs=4M conv=fsync``.

No mounting and no root: the ext4 root partition is written with debugfs
(e2fsprogs), the FAT boot partition with mtools, both at their byte offsets
inside the image file. Into the root: the bundle at /opt/sigpad-bundle and
sigpad-firstboot.service, enabled, which runs the bundle's install.sh once.
Onto the boot partition: sigpad/sigpad.toml, editable from any PC before the
first boot (set the pad's port or protocol there), and a README. If the root
partition is too full, the image is grown (the root partition must be the
last one; Raspberry Pi OS expands it to the whole card on first boot anyway).
32-bit (armhf) images are refused: there is no ai-edge-litert for them.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SECTOR = 512
BUNDLE_DIR = "/opt/sigpad-bundle"
UNIT = "sigpad-firstboot.service"
FAT_TYPES = {"b", "c", "e", "6", "ef", "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
             "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"}
LINUX_TYPES = {"83", "0fc63daf-8483-4772-8e79-3d69d8477de4", "b921b045-1df0-41c3-af44-4c6f280d3fae"}
# Free space left on the root after the bundle. The venv (~250 MB) comes on
# first boot, after Raspberry Pi OS has expanded the root to the whole card.
MARGIN = 64 << 20


class ImageError(Exception):
    pass


def run(cmd: list[str], what: str, input: str | None = None) -> str:
    tool = cmd[0]
    if shutil.which(tool) is None:
        pkg = {"debugfs": "e2fsprogs", "resize2fs": "e2fsprogs", "e2fsck": "e2fsprogs",
               "mcopy": "mtools", "mmd": "mtools", "mtype": "mtools", "sfdisk": "fdisk"}.get(tool, tool)
        raise ImageError(f"{tool} not found: apt-get install {pkg}")
    p = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if p.returncode != 0:
        raise ImageError(f"{what}: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-800:]}")
    return p.stdout


def partitions(image: Path) -> tuple[dict, dict, bool]:
    """(boot FAT partition, root ext4 partition, whether root is the last one)."""
    table = json.loads(run(["sfdisk", "--json", str(image)], "reading the partition table"))
    parts = table["partitiontable"].get("partitions", [])
    boot = next((p for p in parts if p["type"].lower() in FAT_TYPES), None)
    root = next((p for p in parts if p["type"].lower() in LINUX_TYPES), None)
    if boot is None or root is None:
        raise ImageError(f"{image}: expected a FAT boot and a Linux root partition, found types "
                         f"{[p['type'] for p in parts]}: is this a Raspberry Pi OS image?")
    last = max(parts, key=lambda p: p["start"])
    return boot, root, last is root


class Ext4:
    """The root filesystem at its offset in the image, through debugfs."""

    def __init__(self, image: Path, part: dict):
        self.image, self.part = image, part
        self.dev = f"{image}?offset={part['start'] * SECTOR}"

    def request(self, command: str) -> str:
        return run(["debugfs", "-R", command, self.dev], f"debugfs {command!r}")

    def write_script(self, commands: list[str]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as f:
            f.write("\n".join(commands) + "\n")
        try:
            out = subprocess.run(["debugfs", "-w", "-f", f.name, self.dev], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        errors = [ln for ln in out.stderr.splitlines()
                  if ln.strip() and not ln.startswith("debugfs ") and "File exists" not in ln]
        if out.returncode != 0 or errors:
            raise ImageError("writing the root filesystem failed: " + "; ".join(errors[:5]))

    def exists(self, path: str) -> bool:
        p = subprocess.run(["debugfs", "-R", f"stat {path}", self.dev], capture_output=True, text=True)
        return p.returncode == 0 and "not found" not in p.stderr and "Inode:" in p.stdout

    def free_bytes(self) -> int:
        stats = self.request("stats")
        field = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in stats.splitlines())}
        return int(field["Free blocks"]) * int(field["Block size"])

    def read(self, path: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            run(["debugfs", "-R", f"dump {path} {tmp}/f", self.dev], f"reading {path}")
            return Path(tmp, "f").read_bytes() if Path(tmp, "f").exists() else b""


def elf_arch(header: bytes) -> str:
    if header[:4] != b"\x7fELF":
        return "not an ELF file"
    machine = int.from_bytes(header[18:20], "little")
    return {(2, 183): "aarch64", (1, 40): "armhf", (2, 62): "x86_64"}.get(
        (header[4], machine), f"class {header[4]} machine {machine}")


def check_arch(fs: Ext4) -> str:
    for path in ("/usr/bin/dpkg", "/usr/bin/python3.11", "/usr/bin/ls"):
        if fs.exists(path):
            arch = elf_arch(fs.read(path)[:64])
            break
    else:
        raise ImageError("no /usr/bin/dpkg in the root partition: is this a Raspberry Pi OS image?")
    if arch == "armhf":
        raise ImageError("this is 32-bit Raspberry Pi OS (armhf): ai-edge-litert has no 32-bit ARM "
                         "wheel. Use the 64-bit image (Raspberry Pi OS Lite (64-bit)).")
    if arch != "aarch64":
        raise ImageError(f"the root partition holds {arch} binaries: sigpad's image needs arm64")
    return arch


def copy_range(src: Path, src_off: int, length: int, dst: Path, dst_off: int, holes_from: int = 0) -> None:
    """Copy bytes between files; zero blocks from ``holes_from`` on (where the
    destination is known to be zeros already) are left as holes."""
    chunk = 1 << 20
    with open(src, "rb") as f, open(dst, "r+b" if dst.exists() else "wb") as g:
        f.seek(src_off)
        done = 0
        while done < length:
            block = f.read(min(chunk, length - done))
            if not block:
                break
            if done >= holes_from and block.count(0) == len(block):
                g.seek(dst_off + done + len(block))
                g.truncate(max(g.tell(), os.fstat(g.fileno()).st_size))
            else:
                g.seek(dst_off + done)
                g.write(block)
            done += len(block)


def grow(image: Path, root: dict, extra: int) -> dict:
    """Add ``extra`` bytes (MiB-rounded) to the image and its last (root) partition."""
    extra = -(-extra // (1 << 20)) * (1 << 20)
    old_bytes = root["size"] * SECTOR
    with open(image, "r+b") as f:
        f.truncate(image.stat().st_size + extra)
    number = root["node"][len(str(image)):]
    run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", "-N", number, str(image)],
        "growing the root partition", input=", +\n")
    _, root, _ = partitions(image)
    # resize2fs is run on a copy of the partition: given an image?offset=,
    # it sets the image file's length to the filesystem's, cutting its tail.
    with tempfile.TemporaryDirectory(dir=image.parent) as tmp:
        part = Path(tmp) / "root.ext4"
        copy_range(image, root["start"] * SECTOR, old_bytes, part, 0)
        run(["e2fsck", "-fy", str(part)], "checking the root filesystem before resizing")
        run(["resize2fs", str(part), f"{root['size'] * SECTOR // 1024}K"], "resizing the root filesystem")
        if part.stat().st_size > root["size"] * SECTOR:
            raise ImageError("resize2fs made the filesystem larger than its partition")
        # Every old byte is written back (resize2fs may have zeroed some); past
        # the old end the image is a fresh hole.
        copy_range(part, 0, part.stat().st_size, image, root["start"] * SECTOR, holes_from=old_bytes)
    return root


def tree_commands(src: Path, dest: str) -> list[str]:
    """debugfs commands copying ``src`` to ``dest``, root-owned, modes kept."""
    cmds = [f"mkdir {dest}", f"sif {dest} mode 040755", f"sif {dest} uid 0", f"sif {dest} gid 0"]
    for path in sorted(src.rglob("*")):
        target = f"{dest}/{path.relative_to(src).as_posix()}"
        if any(c in target for c in ' "\n'):
            raise ImageError(f"{path}: names with spaces or quotes are not written")
        if path.is_dir():
            cmds += [f"mkdir {target}", f"sif {target} mode 040755"]
        else:
            mode = 0o100755 if os.access(path, os.X_OK) else 0o100644
            cmds += [f"write {path} {target}", f"sif {target} mode 0{mode:o}"]
        cmds += [f"sif {target} uid 0", f"sif {target} gid 0"]
    return cmds


def mkdirs(fs: Ext4, path: str) -> list[str]:
    cmds, cur = [], ""
    for part in path.strip("/").split("/"):
        cur += "/" + part
        if not fs.exists(cur):
            cmds += [f"mkdir {cur}", f"sif {cur} mode 040755"]
    return cmds


def fat_files(image: Path, boot: dict, bundle: Path) -> None:
    img = f"{image}@@{boot['start'] * SECTOR}"
    env_cmd = ["mmd", "-D", "s", "-i", img, "::/sigpad"]
    p = subprocess.run(env_cmd, capture_output=True, text=True)
    if p.returncode != 0 and "exists" not in (p.stderr + p.stdout).lower():
        raise ImageError(f"creating sigpad/ on the boot partition: {p.stderr.strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        readme = Path(tmp, "README.txt")
        readme.write_text(
            "sigpad: this card installs sigpad on its first boot (see journalctl -u sigpad-firstboot).\r\n"
            "Edit sigpad.toml here before the first boot to set the pad: [pad] port and protocol.\r\n"
            "After the first boot the config lives in /etc/sigpad/sigpad.toml; this copy is not read again.\r\n")
        for f in (bundle / "sigpad.toml", readme):
            run(["mcopy", "-o", "-i", img, str(f), f"::/sigpad/{f.name}"], f"copying {f.name} to the boot partition")


def build_image(source: Path, bundle: Path, out: Path) -> dict:
    if not (bundle / "BUNDLE.json").is_file() or not (bundle / "install.sh").is_file():
        raise ImageError(f"{bundle}: not a sigpad bundle (build one with `make bundle`)")
    if not (bundle / UNIT).is_file():
        raise ImageError(f"{bundle}/{UNIT} missing: rebuild the bundle")
    tmp_out = out.with_name(out.name + ".part")
    if source.suffix == ".xz":
        with lzma.open(source) as src, open(tmp_out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        shutil.copyfile(source, tmp_out)
    try:
        boot, root, root_last = partitions(tmp_out)
        fs = Ext4(tmp_out, root)
        arch = check_arch(fs)
        if fs.exists(BUNDLE_DIR):
            raise ImageError(f"{source} already holds {BUNDLE_DIR}: start from a clean Raspberry Pi OS image")
        size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
        need = size + size // 20 + MARGIN
        grown = 0
        if fs.free_bytes() < need:
            if not root_last:
                raise ImageError("the root partition is too small for the bundle and is not the last "
                                 "partition, so it cannot be grown here")
            grown = need - fs.free_bytes()
            root = grow(tmp_out, root, grown)
            fs = Ext4(tmp_out, root)
        units = "/etc/systemd/system"
        wants = f"{units}/multi-user.target.wants"
        cmds = tree_commands(bundle, BUNDLE_DIR) + mkdirs(fs, wants)
        cmds += [f"write {bundle / UNIT} {units}/{UNIT}", f"sif {units}/{UNIT} mode 0100644",
                 f"sif {units}/{UNIT} uid 0", f"sif {units}/{UNIT} gid 0",
                 f"symlink {wants}/{UNIT} {units}/{UNIT}"]
        fs.write_script(cmds)
        fat_files(tmp_out, boot, bundle)
        run(["e2fsck", "-fn", fs.dev], "checking the root filesystem after writing")
        os.replace(tmp_out, out)
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise
    return {"image": str(out), "arch": arch, "bundle_bytes": size, "grown_bytes": grown,
            "root_offset": root["start"] * SECTOR, "boot_offset": boot["start"] * SECTOR}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, required=True, help="Raspberry Pi OS (64-bit) .img or .img.xz")
    p.add_argument("--bundle", type=Path, required=True, help="an unpacked bundle folder")
    p.add_argument("--out", type=Path, required=True, help="the image to write")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.out.resolve() == a.image.resolve():
        print("build_image: --out must differ from --image (the source stays untouched)", file=sys.stderr)
        return 2
    try:
        result = build_image(a.image, a.bundle.resolve(), a.out)
    except (ImageError, OSError) as exc:
        print(f"build_image: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if a.json else
          f"wrote {result['image']} ({result['arch']}; bundle {result['bundle_bytes'] / 1e6:.1f} MB"
          + (f", image grown by {result['grown_bytes'] / 1e6:.0f} MB" if result["grown_bytes"] else "")
          + "): write it with Raspberry Pi Imager (Use custom) or dd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
