#!/usr/bin/env python3
"""``sigpad-train bundle``: everything a Raspberry Pi needs to install sigpad, offline.

    make bundle                    # = .venv/bin/sigpad-train bundle
    .venv/bin/python deploy/bundle.py [--no-wheels] [--out DIR]   # the same, as a script

The bundle is a folder (and a .tar.gz of it) holding the project wheel, the
shipped model(s) and manifest(s), the Pi's config, the systemd unit, the udev
rule, the installer, and the aarch64 wheels of every dependency of
``sigpad[edge]`` for Python 3.11 (Debian bookworm) and 3.13 (trixie), so
``install.sh`` never needs the network. 32-bit Raspberry Pi OS has no
ai-edge-litert wheel: the installer detects it and says so.

Built from a source checkout (it needs ``deploy/``), so it lives here beside
what it packages, as a script of the checkout (deploy/ is no Python package
and not in the wheel): ``sigpad-train bundle`` loads it by its path
(trainer.cli). Downloaded wheels are cached in ``.cache/wheels`` so a rebuild
works offline. No TensorFlow here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from firmware_bridge.errors import SigpadError

REPO = Path(__file__).resolve().parents[1]
FORMAT = "sigpad-bundle/1"
# Files copied from deploy/ into the bundle's top level.
DEPLOY_FILES = ("install.sh", "uninstall.sh", "sigpad.service", "99-sigpad.rules",
                "sigpad.sysusers", "sigpad-wrapper.sh", "sigpad-firstboot.service",
                "model_state.py")
# Newest glibc of the Debian release that ships each Python: a wheel tagged
# for a newer glibc would not load there.
GLIBC_MINOR = {"3.11": 36, "3.12": 39, "3.13": 41}
# Settings the Pi's /etc/sigpad/sigpad.toml pins, on top of edge/sigpad.toml:
# the CLI (via /usr/local/bin/sigpad) and the service must agree on them, and
# the model is the installer's /opt/sigpad/model (a directory of one link per
# pad kind, pressure/ and no_pressure/), never the wheel's copy, so an upgrade
# cannot change the model under enrolled users.
PI_SETTINGS = {
    "store": {"path": "/var/lib/sigpad/templates.db", "key_file": "/var/lib/sigpad/store.key"},
    "model": {"path": "/opt/sigpad/model"},
    "pad": {"port": "/dev/sigpad"},
}
# SVC2004 is research-only: no file of it may ever travel in a bundle.
SVC_NAME = re.compile(r"(^|/)U\d+S\d+\.TXT$", re.IGNORECASE)


def add_arguments(p) -> None:
    p.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    p.add_argument("--python-versions", default="3.11,3.13",
                   help="target Pythons for the aarch64 wheels (default: 3.11,3.13)")
    p.add_argument("--no-wheels", action="store_true",
                   help="no dependency wheels (the Pi then installs with --online)")
    p.add_argument("--wheel-cache", type=Path, default=REPO / ".cache" / "wheels",
                   help="download cache (default: .cache/wheels)")
    p.add_argument("--models", type=Path, default=REPO / "edge" / "models",
                   help="folder of model folders, each with a manifest.json (default: edge/models)")
    p.add_argument("--no-tar", action="store_true", help="only the folder, no .tar.gz")
    p.add_argument("--json", action="store_true", help="print the bundle's summary as JSON")


def platform_tags(python: str) -> list[str]:
    """aarch64 tags pip may pick for a Pi running ``python``'s Debian release.

    ``manylinux2014`` alone is not enough: numpy and ai-edge-litert
    publish only ``manylinux_2_27``/``_2_28`` and newer wheels.
    """
    newest = GLIBC_MINOR.get(python, 36)
    return ["manylinux2014_aarch64"] + [f"manylinux_2_{m}_aarch64" for m in range(17, newest + 1)]


def pi_config(default_text: str, settings: dict = PI_SETTINGS) -> str:
    """``default_text`` (edge/sigpad.toml) with ``settings`` set in their sections.

    Comments and layout stay; an active line of a pinned key is replaced.
    """
    out, section, missing = [], None, {s: dict(kv) for s, kv in settings.items()}
    for line in default_text.splitlines():
        header = re.match(r"\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$", line)
        if header:
            section = header.group(1)
            out.append(line)
            for key, value in missing.pop(section, {}).items():
                out.append(f'{key} = "{value}"'.ljust(48) + "# set by the Pi bundle")
            continue
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if key and section in settings and key.group(1) in settings[section]:
            continue  # the pinned value above replaces it
        out.append(line)
    for section, kv in missing.items():  # a section the default lacks
        out += ["", f"[{section}]"] + [f'{k} = "{v}"' for k, v in kv.items()]
    return "\n".join(out) + "\n"


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SigpadError(f"{what} failed ({' '.join(cmd[:4])} ...):\n{tail}")
    return proc


def build_wheel(dest: Path) -> Path:
    """The project wheel, built from this checkout."""
    import importlib.util
    # Without build isolation when setuptools is here: no index needed, so it works offline.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
              "-w", tmp, str(REPO)], "building the sigpad wheel")
        (wheel,) = Path(tmp).glob("sigpad-*.whl")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheel, dest / wheel.name))


def check_wheel(wheel: Path) -> list[str]:
    """Refuse research data in the wheel; return warnings about what it lacks."""
    names = zipfile.ZipFile(wheel).namelist()
    bad = [n for n in names if SVC_NAME.search(n)]
    if bad:
        raise SigpadError(f"{wheel.name} contains SVC2004 files ({bad[0]}...): research-only data "
                          "must not ship; remove them from the package")
    if not any(n.startswith("edge/models/") and n.endswith(".tflite") for n in names):
        return [f"{wheel.name} holds no edge/models/*/*.tflite (package-data glob?): the Pi still "
                "gets the model from the bundle's models/, but `pip install sigpad` elsewhere won't"]
    return []


def download_wheels(requirement: str, python: str, dest: Path, cache: Path) -> list[Path]:
    """aarch64 wheels of ``requirement`` and its dependencies for ``python``.

    Tried offline from the cache first; the index is used only for what the
    cache lacks, and new downloads are added to the cache.
    """
    cache.mkdir(parents=True, exist_ok=True)
    tag = "cp" + python.replace(".", "")
    base = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
            "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
            "--abi", tag, *[a for t in platform_tags(python) for a in ("--platform", t)],
            "--find-links", str(cache)]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = base + ["-d", tmp, requirement, "pip"]
        offline = subprocess.run(cmd + ["--no-index"], capture_output=True, text=True)
        if offline.returncode != 0:
            _run(cmd, f"downloading aarch64 wheels for Python {python}")
        got = sorted(Path(tmp).glob("*.whl"))
        for w in got:
            if not (cache / w.name).exists() and not w.name.startswith("sigpad-"):
                shutil.copy2(w, cache / w.name)
        dest.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.copy2(w, dest / w.name)) for w in got]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def copy_models(source: Path, dest: Path) -> dict[str, str]:
    """The shipped models, checked against their manifests: name -> sha256."""
    models = {}
    for manifest in sorted(source.glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        model = manifest.parent / data.get("model_file", "encoder_int8.tflite")
        if not model.is_file():
            raise SigpadError(f"{manifest}: its model file {model.name} is missing")
        if sha256(model) != data["sha256"]:
            raise SigpadError(f"{model}: sha256 differs from its manifest; re-export the model")
        target = dest / manifest.parent.name
        target.mkdir(parents=True)
        shutil.copy2(manifest, target / "manifest.json")
        shutil.copy2(model, target / model.name)
        models[manifest.parent.name] = data["sha256"]
    if not models:
        raise SigpadError(f"no shipped model in {source} (*/manifest.json)")
    return models


def git_describe() -> str:
    proc = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def build(out: Path, pythons: list[str], wheels: bool, cache: Path,
          models_dir: Path = REPO / "edge" / "models") -> tuple[Path, dict]:
    deploy = REPO / "deploy"
    if not (deploy / "install.sh").is_file():
        raise SigpadError(f"{deploy}/install.sh not found: build the bundle from a sigpad source checkout")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".building-") as tmp:
        work = Path(tmp) / "bundle"
        wheel = build_wheel(work / "wheels")
        version = wheel.name.split("-")[1]
        warnings = check_wheel(wheel)
        copy_deploy_files(work)
        models = copy_models(models_dir, work / "models")
        tags = {}
        if wheels:
            for py in pythons:
                download_wheels(f"sigpad[edge] @ {wheel.as_uri()}", py, work / "wheels",
                                cache / f"cp{py.replace('.', '')}-aarch64")
                tags[py] = platform_tags(py)
        meta = seal(work, {
            "format": FORMAT, "version": version, "git": git_describe(),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "arch": "aarch64", "offline": wheels, "python": pythons if wheels else [],
            "platform_tags": tags, "models": models}, warnings)
        final = out / f"sigpad-bundle-{version}"
        if final.exists():
            shutil.rmtree(final)
        shutil.move(str(work), final)
    return final, meta


def copy_deploy_files(work: Path) -> None:
    """deploy/'s files for the Pi, the guide, and the Pi's config, checked as the Pi would load it."""
    from edge.app import config as edge_config  # light: tomllib and the error types

    for name in DEPLOY_FILES:
        shutil.copy2(REPO / "deploy" / name, work / name)
    docs = REPO / "docs" / "deploy.md"
    if docs.exists():
        shutil.copy2(docs, work / "deploy.md")
    (work / "sigpad.toml").write_text(pi_config((REPO / "edge" / "sigpad.toml").read_text()))
    edge_config.load(work / "sigpad.toml")  # a config the Pi would refuse must not ship


def seal(work: Path, meta: dict, warnings: list[str]) -> dict:
    """Refuse SVC2004 files, then write BUNDLE.json (``meta``, the wheels, the size) and SHA256SUMS."""
    files = sorted(p for p in work.rglob("*") if p.is_file())
    leaked = [p for p in files if SVC_NAME.search(p.name)]
    if leaked:
        raise SigpadError(f"refusing to bundle SVC2004 data: {leaked[0]}")
    meta = {**meta, "wheels": sorted(p.name for p in (work / "wheels").glob("*.whl")),
            "size_bytes": sum(p.stat().st_size for p in files), "warnings": warnings}
    (work / "BUNDLE.json").write_text(json.dumps(meta, indent=2) + "\n")
    files.append(work / "BUNDLE.json")
    (work / "SHA256SUMS").write_text("".join(
        f"{sha256(p)}  {p.relative_to(work)}\n" for p in sorted(files)))
    for name in ("install.sh", "uninstall.sh", "sigpad-wrapper.sh"):
        (work / name).chmod(0o755)
    return meta


def make_tar(bundle: Path) -> Path:
    tar = bundle.parent / f"{bundle.name}-aarch64.tar.gz"
    # Wheels are zip files already: a light gzip level costs little and gains as much.
    with tarfile.open(tar, "w:gz", compresslevel=1) as t:
        t.add(bundle, arcname=bundle.name)
    return tar


def run(args) -> int:
    pythons = [v.strip() for v in args.python_versions.split(",") if v.strip()]
    for v in pythons:
        if not re.fullmatch(r"3\.\d+", v):
            raise SigpadError(f"--python-versions: {v!r} is not like 3.11")
    bundle, meta = build(args.out.resolve(), pythons, not args.no_wheels, args.wheel_cache.resolve(),
                         args.models.resolve())
    tar = None if args.no_tar else make_tar(bundle)
    for w in meta["warnings"]:
        print(f"sigpad-train bundle: warning: {w}", file=sys.stderr)
    summary = {"bundle": str(bundle), "tar": str(tar) if tar else None, "version": meta["version"],
               "size_bytes": meta["size_bytes"], "wheels": len(meta["wheels"]),
               "python": meta["python"], "models": meta["models"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{bundle} ({meta['size_bytes'] / 1e6:.1f} MB, {len(meta['wheels'])} wheels, "
              f"Python {', '.join(meta['python']) or 'none: install with --online'})")
        if tar:
            print(tar)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="deploy/bundle.py",
                                description=__doc__.splitlines()[0])
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except SigpadError as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
