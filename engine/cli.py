"""The engine's commands: `detect`, `models`, `bench`, `train FOLDER`, `classify`. This module
holds their table and their parser; `python -m engine COMMAND ...` runs one. The `sightline`
launcher (package `sightline`, above engine and gui) runs the same commands and opens the
window otherwise."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional

from engine.console import EXIT_USAGE
from engine.logs import LEVELS, setup_logging

COMMANDS = {
    "detect": "engine.commands.detect",
    "models": "engine.commands.models",
    "bench": "engine.commands.bench",
    "train": "engine.commands.train",
    "classify": "engine.commands.classify",
    "export": "engine.commands.export",
    "import": "engine.commands.import_results",
    "train-detector": "engine.commands.train_detector",
    "explain": "engine.commands.explain",
    "train-segmenter": "engine.commands.train_segmenter",
    "segment": "engine.commands.segment",
}

log = logging.getLogger(__name__)


def add_log_level(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    parser.add_argument("--log-level", choices=LEVELS, type=str.lower, default=default,
                        help="messages at this level and above go to stderr (default warning); the log file "
                        "keeps info and above")  # fmt: skip


def command_named(argv: list[str]) -> Optional[str]:
    """The command `argv` runs: its first word that is one (None: none, e.g. `--help`)."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(prog: str = "sightline", argv: Optional[list[str]] = None) -> argparse.ArgumentParser:
    """The parser for `argv`: only the command it names is imported (each command module
    pulls in torch, torchvision or grad-cam: importing all eleven took 2 s more than one);
    every command when it names none (`--help`, a typo)."""
    parser = argparse.ArgumentParser(prog=prog, description="Review what detection models see: the commands.")
    add_log_level(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = command_named(argv) if argv is not None else None
    for name, module_name in COMMANDS.items():
        if wanted is not None and name != wanted:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose module is not there (yet)
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
        add_log_level(subparsers.choices[name])
    return parser


def run_command(args: argparse.Namespace, argv: list[str]) -> int:
    """Run a parsed command with logging set up; its exit status."""
    log_file = setup_logging(args.log_level)
    log.info("sightline %s (log: %s)", " ".join(argv), log_file)
    try:
        code = int(args.run(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("\nsightline: interrupted\n")
        code = 130
    log.info("sightline %s: exit status %d", args.command, code)
    return code


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m engine COMMAND ...`."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser("python -m engine", argv)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_command(args, argv)


if __name__ == "__main__":
    sys.exit(main())
