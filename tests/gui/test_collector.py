"""Garbage cycles are freed on the GUI thread, also when a worker thread does the allocating
(Python would otherwise collect in the worker, and a cycle holding a Qt object freed off its
thread can crash the window)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

from gui.app import application
from gui.collector import GuiThreadCollector, install_collector


class _Cycle:
    """Refers to itself, so only the cyclic collector frees it; records the thread that did."""

    freed_on: list[str] = []

    def __init__(self):
        self.me = self
        self.timer = QTimer()  # a Qt object that must be freed on the thread it lives on

    def __del__(self):
        _Cycle.freed_on.append(threading.current_thread().name)


def _allocate_on_a_worker() -> list:
    """What a model worker does: make (and keep) many small containers."""
    kept = []
    worker = threading.Thread(target=lambda: kept.extend([i] for i in range(50_000)), name="worker")
    worker.start()
    worker.join()
    return kept


def test_a_cycle_dropped_by_the_window_is_freed_on_the_gui_thread_not_by_a_worker(qtbot):
    assert not gc.isenabled()  # the GUI tests run as the application does
    _Cycle.freed_on.clear()
    _Cycle()
    results = _allocate_on_a_worker()
    assert _Cycle.freed_on == []  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: bool(_Cycle.freed_on), timeout=5000)
    assert _Cycle.freed_on == [threading.main_thread().name]
    assert len(results) == 50_000


def test_the_collector_collects_only_what_is_due_and_stopping_gives_collection_back(qtbot):
    collector = GuiThreadCollector(interval_ms=10_000)
    gc.collect()
    assert collector.collect_due() == -1  # nothing allocated since: nothing due
    junk = [[i] for i in range(5_000)]
    assert collector.collect_due() >= 0
    del junk
    was_enabled = gc.isenabled()
    collector.start()
    collector.stop()
    assert gc.isenabled()
    if not was_enabled:
        gc.disable()


def test_the_application_has_one_collector(qtbot):
    app = application()
    first = install_collector(app)
    assert install_collector(app) is first and first.active
    assert len(app.findChildren(GuiThreadCollector)) == 1
    assert isinstance(first, QObject)
