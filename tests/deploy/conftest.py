"""Helpers for the deployment tests: small bundles, stub wheels, tool checks.

The fast tests install a *small* bundle (the real deploy files and config,
a stub sigpad wheel without dependencies, a fake model) into a directory
with this machine's Python; the emulated-Pi test installs the real bundle
into an arm64 root under QEMU.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trainer.cli import load

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
B = load("deploy/bundle.py")  # the bundler, as `sigpad-train bundle` loads it


def require(*tools: str) -> None:
    """Skip when a tool is missing here; fail in CI, where .ci/run installs it."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"missing {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the deployment tests run as root in CI")
        pytest.skip("needs root (chown, chroot)")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fake_model(directory: Path, seed: int | str) -> str:
    """A model folder whose manifest matches its (fake) .tflite bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    data = b"TFL3" + hashlib.sha256(str(seed).encode()).digest() * 8
    (directory / "encoder_int8.tflite").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(
        {"format": "sigpad-model/1", "model_file": "encoder_int8.tflite", "sha256": sha}, indent=2))
    return sha


def stub_wheel(directory: Path, version: str) -> Path:
    """A dependency-free ``sigpad`` wheel whose console script prints its argv."""
    name = f"sigpad-{version}.dist-info"
    files = {
        "sigpadstub/__init__.py": f"import sys\ndef main():\n    print('sigpad-stub {version}', *sys.argv[1:])\n",
        f"{name}/METADATA": f"Metadata-Version: 2.1\nName: sigpad\nVersion: {version}\nProvides-Extra: edge\n",
        f"{name}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name}/entry_points.txt": "[console_scripts]\nsigpad = sigpadstub:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}/RECORD,,")
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"sigpad-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(f"{name}/RECORD", "\n".join(record) + "\n")
    return wheel


def pip_wheel() -> Path:
    """A pip wheel from this Python's ensurepip or Debian's python3-pip-whl."""
    import ensurepip
    candidates = sorted(Path(ensurepip.__file__).parent.glob("_bundled/pip-*.whl"))
    candidates += sorted(Path("/usr/share/python-wheels").glob("pip-*.whl"))
    if not candidates:
        pytest.skip("no pip wheel on this machine (ensurepip/_bundled or python3-pip-whl)")
    return candidates[-1]


def base_python() -> str:
    """The interpreter under the test venv: venvs are built from it."""
    return getattr(sys, "_base_executable", None) or sys.executable


KINDS = ("pressure", "no_pressure")


def make_bundle(dest: Path, version: str = "0.1.0", model_seed: int = 1, kinds=KINDS) -> Path:
    """A small offline bundle: real deploy files and config, stub wheel, a fake
    model per kind (the same seed gives the same model of a kind; kinds differ)."""
    dest.mkdir(parents=True)
    for name in B.DEPLOY_FILES:
        shutil.copy2(DEPLOY / name, dest / name)
    (dest / "sigpad.toml").write_text(B.pi_config((REPO / "edge" / "sigpad.toml").read_text()))
    models = {kind: fake_model(dest / "models" / kind, f"{kind}{model_seed}") for kind in kinds}
    stub_wheel(dest / "wheels", version)
    shutil.copy2(pip_wheel(), dest / "wheels")
    (dest / "BUNDLE.json").write_text(json.dumps(
        {"format": "sigpad-bundle/1", "version": version, "models": models}))
    write_sums(dest)
    return dest


def write_sums(bundle: Path) -> None:
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (bundle / "SHA256SUMS").write_text("".join(f"{sha256(p)}  {p.relative_to(bundle)}\n" for p in files))


def install(root: Path, bundle: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    """install.sh into ``root`` with this machine's Python (the fast path)."""
    proc = subprocess.run(["bash", str(bundle / "install.sh"), "--root", str(root), "--bundle", str(bundle),
                           "--python", base_python(), "--no-compile", *extra],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"install.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_store(db: Path, key_file: Path, users: dict[str, str]) -> None:
    """A real template store (edge.store) with ``users``: name -> model sha256."""
    from edge.keys import load_keys
    from edge.store import Store
    with Store(db, load_keys(key_file)) as store:
        for user, sha in users.items():
            store.save_enrolment(user, sha, [bytes(64)], [bytes(32)], {})
