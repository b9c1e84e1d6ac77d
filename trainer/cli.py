"""``sigpad-train``: one subcommand per module, each with add_arguments and run.

Results go to stdout (``--json`` for machines), diagnostics to stderr.
Exit codes: 0 success, 1 a target or check failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from firmware_bridge.errors import SigpadError

# subcommand -> (module, help). Modules are imported only when chosen, so
# `sigpad-train evaluate --method dtw` never loads TensorFlow. A path names a
# script of the source checkout: deploy/ is no package, so the wheel the Pi
# installs carries no bundler (a bundle is built from a checkout anyway).
COMMANDS = {
    "evaluate": ("trainer.evaluation.evaluate", "score a verifier on an SVC2004-format dataset"),
    "synth": ("trainer.synth_command", "write synthetic sigma-lognormal writers as SVC2004 files"),
    "fit": ("trainer.fit_command", "train the siamese encoder and export int8 TFLite"),
    "bundle": ("deploy/bundle.py", "build the Raspberry Pi deployment bundle"),
}
CHECKOUT = Path(__file__).resolve().parents[1]
DESCRIPTION = ("sigpad's workstation tools: score a verifier, write synthetic writers, "
               "train and export the int8 encoder, build the Raspberry Pi bundle")


def load(module: str) -> ModuleType:
    """A subcommand's module: imported by name, or a checkout's script by its path (loaded once)."""
    if not module.endswith(".py"):
        return importlib.import_module(module)
    name = module.removesuffix(".py").replace("/", "_")
    if name not in sys.modules:
        path = CHECKOUT / module
        if not path.is_file():  # an installed wheel without the checkout: "not available"
            raise ModuleNotFoundError(f"{path} not found", name=module)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"{path} is no Python module", name=module)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(sys.modules[name])
        except BaseException:  # no half-run module left behind, as import does
            del sys.modules[name]
            raise
    return sys.modules[name]


def build_parser() -> argparse.ArgumentParser:
    # The help is for users; the module's docstring is for whoever adds a subcommand.
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="sigpad-train", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, allow_abbrev=False)
        p.set_defaults(_module=module)
        try:
            load(module).add_arguments(p)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            p.set_defaults(_missing=f"{name}: not available in this build")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"sigpad-train: {args._missing}", file=sys.stderr)
        return 2
    try:
        return int(load(args._module).run(args) or 0)
    except SigpadError as exc:
        print(f"sigpad-train {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
