"""The one way the window runs work off its thread.

`Worker`     the one worker type: a function run on a background thread, with progress,
             items, and exactly one outcome (succeeded / failed with the exception object /
             cancelled), then `finished`, all delivered on the GUI thread by queued signals.
             A worker may carry a `stale` check (see `Generation`): once stale, its outcome
             is dropped on arrival, and nothing the user has left is ever shown.
`WorkPool`   runs short workers (decoding, thumbnails, store reads, scans, exports) on a few
             daemon threads. The model never runs here: `gui.scheduler.DeviceScheduler` runs
             every model job, one at a time, and runs its workers the same way.
`Generation` one number per view: bumped when the view moves on; work asked under an older
             number is stale.

No thread here is ever waited for at quit and none is a QThread: cancelling sets the
worker's CancelToken, and a torch call that cannot be interrupted is simply abandoned (the
threads are daemons; `gui.app` ends the process once the review store has been flushed).
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
import traceback
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal, Slot

from engine.types import CancelToken, Cancelled, Progress

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.1


class Generation:
    """The view's number; `stamp()` gives work a check that says when it has gone stale."""

    def __init__(self):
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value

    def is_current(self, value: int) -> bool:
        return value == self.value

    def stamp(self) -> Callable[[], bool]:
        """A `stale()` check for work asked now."""
        asked = self.value
        return lambda: asked != self.value


_LIVE: set["Worker"] = set()  # started and not yet delivered: kept alive here, not by widgets


def live_workers() -> list["Worker"]:
    return list(_LIVE)


class Worker(QObject):
    """`fn(*args, **kwargs)` on a background thread. `with_cancel` passes `cancel=` (a
    CancelToken), `with_progress` passes `progress=` (a callable taking a Progress); with
    `pass_worker` the function is called as `fn(worker)` and reports through
    `report_progress` / `report_item` / `report_epoch` and reads `cancel` / `stop`."""

    progress = Signal(object)  # engine.types.Progress (throttled to a few a second)
    item = Signal(object)  # partial results, every one delivered
    epoch = Signal(object)  # training metrics
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()
    _relay = Signal(str, object)

    def __init__(self, fn: Callable, args: tuple = (), *, name: str = "work", owner: Any = None,
                 with_cancel: bool = False, with_progress: bool = False, pass_worker: bool = False,
                 stale: Optional[Callable[[], bool]] = None):
        super().__init__()
        self.fn, self.args, self.name, self.owner = fn, args, name, owner
        self.with_cancel, self.with_progress, self.pass_worker = with_cancel, with_progress, pass_worker
        self.stale = stale
        self.cancel, self.stop = CancelToken(), CancelToken()
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.started_at: Optional[float] = None
        self._running = False
        self._ended = threading.Event()  # set on the worker thread when the function has returned
        self._last_progress = 0.0
        self._relay.connect(self._deliver)  # queued: this object lives on the GUI thread

    # the GUI thread --------------------------------------------------------------------------

    def connect_outcome(self, on_done=None, on_error=None, on_progress=None, on_cancelled=None) -> "Worker":
        if on_done is not None:
            self.succeeded.connect(on_done)
        if on_error is not None:
            self.failed.connect(on_error)
        if on_progress is not None:
            self.progress.connect(on_progress)
        if on_cancelled is not None:
            self.cancelled.connect(on_cancelled)
        return self

    def mark_started(self) -> None:
        self._running = True
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._running

    def request_cancel(self) -> None:
        self.cancel.cancel()

    def request_stop(self) -> None:
        self.stop.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the function has returned (tests only: the window never waits)."""
        return not self._running or self._ended.wait(ms / 1000)

    @Slot(str, object)
    def _deliver(self, kind: str, value: Any) -> None:
        if kind == "progress":
            if self._running and not self.cancel.cancelled and not self._is_stale():
                self.progress.emit(value)
            return
        if kind in ("item", "epoch"):
            if self._running and not self._is_stale():
                (self.item if kind == "item" else self.epoch).emit(value)
            return
        if not self._running:
            return
        self._running = False
        _LIVE.discard(self)  # before the signals: their slots may ask what still runs
        if self._is_stale():
            pass  # the user has moved on: the outcome is not shown
        elif kind == "cancelled" or (kind == "done" and self.cancel.cancelled):
            self.cancelled.emit()
        elif kind == "failed":
            self.error = value
            self.failed.emit(value)
        else:
            self.result = value
            self.succeeded.emit(value)
        self.finished.emit()

    def end_unrun(self) -> None:
        """Cancelled before any thread ran it (its pool shut down): it still ends, cancelled
        (delivered on the GUI thread like every outcome)."""
        self.cancel.cancel()
        self._relay.emit("cancelled", None)

    def _is_stale(self) -> bool:
        return self.stale is not None and self.stale()

    # the worker thread -----------------------------------------------------------------------

    def execute(self) -> None:
        """Run the function here (a pool or device thread) and send the outcome home."""
        try:
            self._execute()
        finally:
            self._ended.set()

    def _execute(self) -> None:
        if self.cancel.cancelled:
            self._relay.emit("cancelled", None)
            return
        self.started_at = time.monotonic()
        try:
            value = self._call()
        except Cancelled:
            self._relay.emit("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back as an object
            log.error("background work '%s' failed: %s", self.name,
                      "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=6)))
            exc.__traceback__ = None  # frames of this thread are not kept alive by the GUI
            self._relay.emit("failed", exc)
        else:
            self._relay.emit("done", value)

    def _call(self) -> Any:
        if self.pass_worker:
            return self.fn(self)
        kwargs = {}
        if self.with_cancel:
            kwargs["cancel"] = self.cancel
        if self.with_progress:
            kwargs["progress"] = self.report_progress
        return self.fn(*self.args, **kwargs)

    def report_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        last = progress.total and progress.done >= progress.total
        if last or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._relay.emit("progress", progress)

    def report_item(self, value: Any) -> None:
        self._relay.emit("item", value)

    def report_epoch(self, metrics: Any) -> None:
        self._relay.emit("epoch", metrics)


class WorkPool:
    """A few daemon threads for short work that is not the model; highest priority first."""

    def __init__(self, threads: int = 2, name: str = "sightline-pool"):
        self._queue: "queue.PriorityQueue" = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._mine: set[Worker] = set()  # started here and not yet delivered
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    def start(self, worker: Worker, priority: int = 0) -> Worker:
        worker.mark_started()
        self._mine.add(worker)
        worker.finished.connect(lambda w=worker: self._mine.discard(w))
        if self._closed:  # the threads are gone: it ends at once, cancelled
            worker.end_unrun()
            return worker
        self._queue.put((-priority, next(self._order), worker))
        return worker

    def submit(self, fn: Callable, *args, on_done=None, on_error=None, on_progress=None, on_cancelled=None,
               with_cancel: bool = False, priority: int = 0, stale=None, name: str = "") -> Worker:
        """Run `fn(*args)` here; `on_done(value)` / `on_error(exception)` / `on_cancelled()` on
        the GUI thread (cancelled: the worker's token was set, or the function raised Cancelled)."""
        worker = Worker(fn, args, name=name or getattr(fn, "__name__", "work"), with_cancel=with_cancel,
                        with_progress=on_progress is not None, stale=stale)
        worker.connect_outcome(on_done, on_error, on_progress, on_cancelled)  # failures are logged anyway
        return self.start(worker, priority)

    @property
    def busy(self) -> bool:
        """Work started here has not been delivered yet."""
        return any(w.running for w in self._mine)

    def shutdown(self) -> None:
        """Cancel what waits and what runs; the threads end after their current work.
        Never waits (the threads are daemons)."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                _, _, worker = self._queue.get_nowait()
            except queue.Empty:
                break
            worker.end_unrun()
        for worker in live_workers():
            worker.cancel.cancel()
        for _thread in self._threads:
            self._queue.put((math.inf, next(self._order), None))  # one "stop" for each thread

    def _run(self) -> None:
        while True:
            _, _, worker = self._queue.get()
            if worker is None:
                return
            worker.execute()


_DEFAULT_POOL: Optional[WorkPool] = None


def default_pool() -> WorkPool:
    """The application's pool for work started without one (the training wizard's)."""
    global _DEFAULT_POOL
    if _DEFAULT_POOL is None:
        _DEFAULT_POOL = WorkPool(2, "sightline-wizard")
    return _DEFAULT_POOL
