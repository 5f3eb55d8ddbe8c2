"""Download a model's missing weights in the background: one download at a time, on the
window's `WorkPool`, with throttled progress and Cancel in the model panel.

The file lands where the model looks (`engine.models.ensure_weights`: a `.partial` file,
verified, renamed into place), so on success the model is simply 'cached'. A failure shows
the engine's message (which names the file and its folder) in the panel."""

from __future__ import annotations

import time
from typing import Callable, Optional

from PySide6.QtCore import QObject

from engine.models import ensure_weights
from engine.types import CancelToken, Progress

PROGRESS_INTERVAL_S = 0.1  # at most 10 progress signals a second reach the window


def _throttled(progress: Callable[[Progress], None], interval: float = PROGRESS_INTERVAL_S):
    """`progress`, called at most every `interval` seconds, and always at the end of a file."""
    last = float("-inf")

    def report(p: Progress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= interval or (p.total and p.done >= p.total):
            last = now
            progress(p)

    return report


def download_weights(name: str, token: CancelToken, progress: Callable[[Progress], None]) -> str:
    """Runs in the pool: the weights of `name`, downloaded; `token` cancels (raises Cancelled)."""
    ensure_weights(name, progress=_throttled(progress), cancel=token)
    return name


class WeightsDownload(QObject):
    """Wires the model panel's Download/Cancel to the pool; `cancel()` when the window closes."""

    def __init__(self, window, parent: Optional[QObject] = None):
        super().__init__(parent or window)
        self.window = window
        self.panel = window.model_panel
        self._token: Optional[CancelToken] = None  # the running download's (its own, not the pool's:
        self._name = ""  # the pool drops results of cancelled tasks, and the end must be seen)
        self.panel.download_requested.connect(self.start)
        self.panel.download_cancel_requested.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self._token is not None

    def start(self, name: str) -> bool:
        """Download the weights of `name`; False while another download runs."""
        if self._token is not None or not name:
            return False
        token = CancelToken()
        self._token, self._name = token, name
        self.panel.download_started(name)
        self.window.status.showMessage(f"Downloading the weights of {name}…", 5000)
        self.window.pool.submit(download_weights, name, token,
                                on_done=lambda _n: self._ended(token, ""),
                                on_error=lambda message: self._ended(token, message),
                                on_cancelled=lambda: self._ended(token, ""),
                                on_progress=lambda p: self._progress(token, p))
        return True

    def cancel(self) -> None:
        """Stop the download; it removes its partial file and ends (reported when it has)."""
        if self._token is not None:
            self._token.cancel()
            self.panel.download_cancel.setEnabled(False)

    def _progress(self, token: CancelToken, progress: Progress) -> None:
        if token is self._token and not token.cancelled:
            self.panel.download_progress(self._name, progress)

    def _ended(self, token: CancelToken, message: str) -> None:
        if token is not self._token:
            return
        name, self._token, self._name = self._name, None, ""
        self.panel.download_cancel.setEnabled(True)
        status = self.window.status
        if token.cancelled:
            self.panel.download_ended(name)
            status.showMessage(f"Download of {name}'s weights cancelled", 5000)
            return
        if message:
            error = str(message)  # the engine's own words (the exception)
            self.panel.download_ended(name, error)
            status.showMessage(f"Could not download the weights of {name}", 10_000)
            return
        self.panel.download_ended(name)
        status.showMessage(f"Weights of {name} downloaded", 10_000)
        controller = self.window.controller
        if name == controller.model and controller.current_row >= 0:
            controller.open_row(controller.current_row)  # it failed without weights: run it now
