"""The `sightline` command. With no command (or only paths) it opens the app window;
`sightline detect|models|bench|train|classify ...` are the command-line front ends over the
same engine calls the window uses."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional

COMMANDS = {
    "detect": "engine.commands.detect",
    "models": "engine.commands.models",
    "bench": "engine.commands.bench",
    "train": "engine.commands.train",
    "classify": "engine.commands.classify",
    "train-segmenter": "engine.commands.train_segmenter",
    "segment": "engine.commands.segment",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline",
        description="Review what detection models see. `sightline [PATH...]` opens the window; "
        "the commands below work without it.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def _open_window(paths: list[str]) -> int:
    try:
        from gui.app import run_app
    except ImportError as exc:
        sys.stderr.write(f"sightline: error: the window cannot start: {exc}\n")
        return 2
    return run_app(paths)


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _open_window(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("\nsightline: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
