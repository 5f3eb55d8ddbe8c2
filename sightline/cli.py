"""`sightline [OPTIONS] [PATH...]` opens the window on existing paths (the bundled samples when
none); `sightline [OPTIONS] COMMAND ...` runs an engine command; `--install-desktop` and
`--uninstall-desktop` add or remove the desktop launcher. A word that is neither a command nor
an existing path is an error naming the closest command (exit 2)."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from typing import Optional

from engine.about import version
from engine.cli import COMMANDS, add_log_level, build_parser, run_command
from engine.console import EXIT_USAGE, error
from engine.logs import setup_logging

log = logging.getLogger(__name__)


def top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline", usage="sightline [OPTIONS] [PATH...]\n       sightline [OPTIONS] COMMAND [ARGS...]",
        description="Review what detection models see. With paths (images, folders, videos), or none for the "
        "bundled samples, opens the window.",
        epilog=f"commands: {', '.join(COMMANDS)} (sightline COMMAND -h for each)",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"sightline {version()}")
    add_log_level(parser, default=None)
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument("--install-desktop", action="store_true",
                         help="add Sightline to the desktop's application menu (this installation, this user)")
    desktop.add_argument("--uninstall-desktop", action="store_true", help="remove what --install-desktop added")
    return parser


def split_leading_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """The options before the first command or path, and the rest."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        i += 2 if argv[i] == "--log-level" else 1
    rest = argv[i:]
    return argv[:i], rest[1:] if rest[:1] == ["--"] else rest


def closest_command(word: str) -> Optional[str]:
    matches = difflib.get_close_matches(word.lower(), COMMANDS, n=1, cutoff=0.6)
    return matches[0] if matches else None


def refuse_missing(paths: list[str]) -> Optional[int]:
    """Exit status 2 with a message when any path does not exist (a mistyped command)."""
    missing = [p for p in paths if not os.path.exists(p)]
    if not missing:
        return None
    word = missing[0]
    guess = closest_command(word) if word == paths[0] else None
    if guess:
        error(f"unknown command '{word}'; did you mean '{guess}'? (sightline -h lists the commands)")
    elif os.sep not in word and "." not in word and word == paths[0]:
        error(f"'{word}' is neither a command ({', '.join(COMMANDS)}) nor a file or folder")
    else:
        error(f"no such file or folder: {', '.join(missing)}")
    return EXIT_USAGE


def run_engine_command(argv: list[str], level: Optional[str]) -> int:
    args = build_parser(argv=argv).parse_args(argv)
    args.log_level = getattr(args, "log_level", None) or level
    if args.command == "train" and args.folder is None:
        from sightline.window import open_wizard

        return open_wizard(args.log_level)
    return run_command(args, argv)


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    leading, rest = split_leading_options(argv)
    options = top_parser().parse_args(leading)
    if options.install_desktop or options.uninstall_desktop:
        if rest:
            error("--install-desktop and --uninstall-desktop take no command or path")
            return EXIT_USAGE
        from sightline import desktop

        setup_logging(options.log_level)
        return desktop.install() if options.install_desktop else desktop.uninstall()
    if rest and rest[0] in COMMANDS:
        return run_engine_command(rest, options.log_level)
    window = argparse.ArgumentParser(prog="sightline", usage=top_parser().usage)
    window.add_argument("paths", nargs="*")
    add_log_level(window, default=options.log_level)
    args = window.parse_intermixed_args(rest)
    refused = refuse_missing(args.paths)
    if refused is not None:
        return refused
    from sightline.window import open_window

    return open_window(args.paths, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
