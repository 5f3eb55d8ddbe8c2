"""Logging for every front end: a rotating log file in the user's log folder
(`engine.paths.log_file()`) and, for the commands, messages on stderr at `--log-level`.
Unhandled exceptions, in the main thread or any other, are written to the log file too.

Code anywhere logs with `logging.getLogger(__name__)`; only the entry points call
`setup_logging`."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from typing import Optional

from engine import paths

LEVELS = ("debug", "info", "warning", "error")
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
MAX_BYTES, BACKUP_COUNT = 1_000_000, 3  # sightline.log plus three older files, about 4 MB
log = logging.getLogger("sightline")


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (tests redirect it); skips records that
    Python's own excepthook prints anyway."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False) and super().filter(record)


def _level(name: Optional[str], default: int) -> int:
    return logging.getLevelName(name.upper()) if name else default


def setup_logging(level: Optional[str] = None, console: bool = True) -> Optional[Path]:
    """Log to the log file (info and above, debug too when `level` is "debug") and, with
    `console`, to stderr (`level` and above, default warning). Returns the log file, or None
    when it cannot be written (said once on stderr; the program carries on)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "sightline", False)]:
        root.removeHandler(handler)
        handler.close()
    wanted = _level(level, logging.WARNING)
    file_level = min(wanted, logging.INFO)
    root.setLevel(file_level)
    path = paths.log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                                       encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"sightline: warning: cannot write the log file {path}: {exc}\n")
        path, handler = None, None
    if handler is not None:
        handler.setLevel(file_level)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
        _add(root, handler)
    if console:
        stderr = _Stderr()
        stderr.setLevel(wanted)
        stderr.setFormatter(logging.Formatter("sightline: %(levelname)s: %(message)s"))
        _add(root, stderr)
    install_excepthooks()
    return path


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    handler.sightline = True
    root.addHandler(handler)


def log_unhandled(exc_type, exc, tb, where: str = "") -> None:
    """One unhandled exception into the log file (Python prints it on stderr itself)."""
    if issubclass(exc_type, KeyboardInterrupt):
        return
    log.critical("unhandled exception%s", f" in {where}" if where else "", exc_info=(exc_type, exc, tb),
                 extra={"file_only": True})


def install_excepthooks() -> None:
    """Log every unhandled exception (main thread and other threads), then let the previous
    hooks do what they did. Installed once per process."""
    if getattr(sys.excepthook, "sightline", False):
        return
    previous, previous_thread = sys.excepthook, threading.excepthook

    def excepthook(exc_type, exc, tb):
        log_unhandled(exc_type, exc, tb)
        previous(exc_type, exc, tb)

    def thread_excepthook(args):
        name = args.thread.name if args.thread is not None else "a thread"
        log_unhandled(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")
        previous_thread(args)

    excepthook.sightline = True
    sys.excepthook, threading.excepthook = excepthook, thread_excepthook
