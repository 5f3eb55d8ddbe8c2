"""Console output for the `sightline` command: a progress bar on stderr and error messages."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

# Exit statuses of every command: all done; some files failed; a usage, model or folder error.
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class ProgressBar:
    """`label [#####.....] 12/40 00:03<00:09 suffix` on stderr.

    Redrawn in place on a terminal (at most 10 times a second); elsewhere (logs, CI) a plain
    line every 10% so the output stays readable.
    """

    WIDTH = 28

    def __init__(self, total: int, label: str = "", stream: Optional[TextIO] = None):
        self.total, self.label = max(0, total), label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.began = time.monotonic()
        self._last_draw, self._last_decile, self.done = 0.0, -1, 0

    def line(self, done: int, suffix: str = "") -> str:
        elapsed = time.monotonic() - self.began
        fraction = done / self.total if self.total else 0.0
        filled = int(self.WIDTH * fraction)
        left = elapsed / done * (self.total - done) if done and self.total else None
        bar = "#" * filled + "." * (self.WIDTH - filled)
        text = f"{self.label} [{bar}] {done}/{self.total} {format_seconds(elapsed)}<{format_seconds(left)}"
        return f"{text} {suffix}".rstrip()

    def update(self, done: int, suffix: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= 0.1 or done >= self.total:
                self.stream.write("\r\x1b[K" + self.line(done, suffix))
                self.stream.flush()
                self._last_draw = now
            return
        decile = int(10 * done / self.total) if self.total else 0
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line(done, suffix) + "\n")
            self.stream.flush()

    def write(self, text: str) -> None:
        """A message line that does not get mixed into the bar."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def error(message: str) -> None:
    sys.stderr.write(f"sightline: error: {message}\n")
    sys.stderr.flush()


def report_write(outcome) -> None:
    """One line for an `engine.outputs.WriteOutcome`: "wrote X", or an error saying where it went."""
    if outcome.error:
        error(outcome.message())
    else:
        sys.stderr.write(outcome.message() + "\n")


def report_summary(first_line: str, failures, stream: Optional[TextIO] = None) -> None:
    """A command's closing summary on stderr: one line of counts, then each failed input
    (an ImageFailure) with its reason."""
    stream = stream or sys.stderr
    stream.write(first_line + "\n")
    for failure in failures:
        stream.write(f"  failed: {failure.path}: {failure.reason}\n")
