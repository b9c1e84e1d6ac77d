"""Model rollout through the hub's object store ``sigpad_models``, without re-enrolment
of the model files themselves: publish once, every kiosk fetches, checks, switches.

Objects: ``<kind>/<sha256>/manifest.json``, ``<kind>/<sha256>/<model file>``
and ``<kind>/current.json`` (which sha is the fleet's, published last so a
kiosk never sees a sha whose files are not there yet). A kiosk fetches into
a fresh directory of its models root, checks the manifest's sha against
the announcement and the model bytes against the manifest
(``edge.manifest.check_model_bytes``), renames it to ``<kind>-<sha12>`` and
switches the ``<kind>`` link by one rename: a verifier opening the root sees
the old model or the new one, never a mix. Users enrolled with the old model
are told to re-enrol (``reenrolment-needed``) until their templates are
re-derived; that re-derivation is not built yet (docs/fleet.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_bridge.errors import SigpadError

from ...errors import FleetError
from ...manifest import check_model_bytes, load_manifest
from ...model import KINDS

if TYPE_CHECKING:
    from .link import Link


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise FleetError(f"model kind {kind!r}: one of {', '.join(KINDS)}")
    return kind


async def publish_model(link: Link, model_dir: Path, kind: str) -> dict[str, Any]:
    """Put a checked model directory in the object store and announce it for ``kind``."""
    manifest_path = model_dir / "manifest.json"
    manifest = load_manifest(manifest_path)
    model_bytes = (model_dir / manifest.model_file).read_bytes()
    check_model_bytes(manifest, model_bytes, str(model_dir))
    prefix = f"{_kind(kind)}/{manifest.sha256}"
    await link.put_object(f"{prefix}/manifest.json", manifest_path.read_bytes())
    await link.put_object(f"{prefix}/{manifest.model_file}", model_bytes)
    announced = {"sha256": manifest.sha256, "model_file": manifest.model_file, "published_at": time.time()}
    await link.put_object(f"{kind}/current.json", json.dumps(announced).encode())
    return {"kind": kind, **announced, "bytes": len(model_bytes)}


async def fetch_model(link: Link, root: Path, kind: str) -> dict[str, Any]:
    """Fetch the fleet's ``kind`` model into the models root ``root`` and switch to it."""
    announced = json.loads(await link.get_object(f"{_kind(kind)}/current.json"))
    sha, model_file = str(announced["sha256"]), Path(str(announced["model_file"])).name
    active = root / kind
    if (active / "manifest.json").is_file() and load_manifest(active / "manifest.json").sha256 == sha:
        return {"kind": kind, "sha256": sha, "changed": False, "path": str(active)}
    if active.exists() and not active.is_symlink():
        raise FleetError(f"{active} is a directory, not a link this command manages: move it away first")
    root.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".incoming-{kind}-", dir=root))
    try:
        (incoming / "manifest.json").write_bytes(await link.get_object(f"{kind}/{sha}/manifest.json"))
        model_bytes = await link.get_object(f"{kind}/{sha}/{model_file}")
        manifest = load_manifest(incoming / "manifest.json")
        if manifest.sha256 != sha or manifest.model_file != model_file:
            raise FleetError(f"the fleet announced {sha[:12]}.../{model_file}; its manifest says "
                             f"{manifest.sha256[:12]}.../{manifest.model_file}: not installed")
        check_model_bytes(manifest, model_bytes, f"fleet model {sha[:12]}...")
        (incoming / model_file).write_bytes(model_bytes)
        final = root / f"{kind}-{sha[:12]}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(incoming, final)
    except (SigpadError, OSError):
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    _switch(active, final.name)
    return {"kind": kind, "sha256": sha, "changed": True, "path": str(active)}


def _switch(active: Path, target: str) -> None:
    """Point ``active`` at ``target`` by one rename (a reader sees one model or the other)."""
    new = active.with_name(f".{active.name}.new")
    new.unlink(missing_ok=True)
    new.symlink_to(target)
    os.replace(new, active)
