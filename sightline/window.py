"""Opening the window (or the training wizard alone) from the launcher: logging first, then a
check that Qt can start here, then the `gui` package."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Optional

from engine.about import version
from engine.console import EXIT_USAGE, error
from engine.logs import setup_logging
from sightline.qt_check import window_problem

log = logging.getLogger(__name__)


def _prepare(level: Optional[str], what: str) -> Optional[int]:
    """Logging and the start-up checks; an exit status when the window cannot open."""
    log_file = setup_logging(level)
    log.info("sightline %s: opening the %s (log: %s)", version(), what, log_file)
    problem = window_problem()
    if problem:
        log.error("the %s cannot open: %s", what, problem, extra={"file_only": True})
        error(problem)
        return EXIT_USAGE
    return None


def _start(what: str, level: Optional[str], module: str, function: str, args: tuple, hint: str = "") -> int:
    refused = _prepare(level, what)
    if refused is not None:
        return refused
    try:
        entry = getattr(importlib.import_module(module), function)
    except ImportError as exc:
        error(f"the {what} cannot open ({exc}){hint}")
        return EXIT_USAGE
    return int(entry(*args) or 0)


def open_window(paths: list[str], level: Optional[str] = None) -> int:
    return _start("window", level, "gui.app", "run_app", ([os.path.abspath(p) for p in paths],))


def open_wizard(level: Optional[str] = None) -> int:
    """`sightline train` with no folder: the training wizard as the only window."""
    return _start("training wizard", level, "gui.wizard", "open_wizard_standalone", (),
                  "; give a FOLDER to train from the command line")
