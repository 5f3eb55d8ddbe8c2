"""Python's cyclic garbage collector, run on the GUI thread only.

Python collects cycles in whichever thread crosses its allocation threshold. With model work
on worker threads that is often a worker, and a cycle that holds a Qt object (a closed dialog,
a widget with a connected lambda) is then destroyed off the GUI thread, which Qt does not
allow: a crash at a random moment, or "Timers cannot be stopped from another thread". So
automatic collection is off while the application runs, and a timer on the GUI thread
collects each generation whose count has passed Python's own threshold (the way calibre and
pyqtgraph keep their collections on the GUI thread).
"""

from __future__ import annotations

import gc
from typing import Optional

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Collects garbage cycles every INTERVAL_MS on the thread it lives on (the GUI thread)."""

    def __init__(self, parent: Optional[QObject] = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Back to Python's own collection (after one pass here, so nothing waits for a worker)."""
        self._timer.stop()
        gc.collect()
        gc.enable()

    def collect_due(self) -> int:
        """Collects the oldest generation whose count is past its threshold (and the younger
        ones with it); returns that generation, or -1 when none was due."""
        counts = gc.get_count()
        due = -1
        for generation, threshold in enumerate(self._thresholds):
            if threshold <= 0 or counts[generation] <= threshold:
                break
            due = generation
        if due >= 0:
            gc.collect(due)
        return due


def install_collector(app: QObject) -> GuiThreadCollector:
    """The application's collector, started once (a second call returns the same one)."""
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        return existing
    collector = GuiThreadCollector(app)
    collector.start()
    return collector
