"""Engine work off the GUI thread for the wizard: one `BackgroundJob` per scan, training run or
save, each on its own QThread, its results delivered to the GUI thread by queued signals.

`fn(job)` runs in the thread; it reads `job.cancel` / `job.stop` (engine CancelTokens) and
reports through `job.report_progress(Progress)` and `job.report_epoch(EpochMetrics)`, which
may be called at any rate: progress is throttled to a few signals a second so a fast linear
probe cannot flood the event loop. Nothing here calls `QThread.terminate()`; cancelling sets
the token and the engine stops at its next check.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from engine.types import CancelToken, Cancelled, Progress

PROGRESS_INTERVAL_S = 0.1


class JobError(Exception):
    """What went wrong in a background job, for people: `message` first, `details` on demand."""

    def __init__(self, message: str, details: str = "", kind: str = ""):
        super().__init__(message)
        self.message, self.details, self.kind = message, details, kind


def describe_error(exc: BaseException) -> JobError:
    """Known engine errors are told in their own words; anything else with its type and trace."""
    from engine.devices import DeviceError
    from engine.images import ImageLoadError
    from engine.train.dataset import DatasetError
    from engine.weights import WeightsError

    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
    if isinstance(exc, (DatasetError, WeightsError, DeviceError, ImageLoadError, ValueError)):
        return JobError(str(exc), details, type(exc).__name__)
    if isinstance(exc, OSError):
        return JobError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), details, "OSError")
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return JobError("out of memory: choose a smaller batch size or image size", details, "MemoryError")
    return JobError(f"{type(exc).__name__}: {exc}", details, type(exc).__name__)


class _Thread(QThread):
    """Runs the function once; the outcome is read on the GUI thread after `finished`."""

    progress = Signal(object)
    epoch = Signal(object)
    item = Signal(object)

    def __init__(self, job: "BackgroundJob", fn: Callable[["BackgroundJob"], Any]):
        super().__init__()
        self.job, self.fn = job, fn
        self.outcome: tuple[Any, Any] = (None, None)  # (result, JobError | Cancelled | None)

    def run(self) -> None:
        try:
            self.outcome = (self.fn(self.job), None)
        except Cancelled:
            self.outcome = (None, Cancelled())  # no traceback: it would tie frames to this QThread
        except BaseException as exc:  # noqa: BLE001 - every failure is shown to the user
            logging.getLogger(__name__).error("wizard job failed", exc_info=exc)
            self.outcome = (None, describe_error(exc))


_LIVE: set["BackgroundJob"] = set()  # started and not yet delivered: kept alive here, not by widgets


def live_jobs() -> list["BackgroundJob"]:
    return list(_LIVE)


def shutdown_all(wait_ms: int = 60_000) -> None:
    """Cancel every live job and wait for its thread (the application is quitting: a thread
    still running when Python tears down would abort the process)."""
    for job in live_jobs():
        job.request_cancel()
    for job in live_jobs():
        job.wait(wait_ms)


def _watch_quit() -> None:
    app = QCoreApplication.instance()
    if app is not None and not app.property("sightlineWizardJobsWatched"):
        app.setProperty("sightlineWizardJobsWatched", True)
        app.aboutToQuit.connect(shutdown_all)


class BackgroundJob(QObject):
    """Run `fn(job)` in a new QThread. Exactly one of succeeded / failed / cancelled is emitted,
    then `finished`, all on the thread that created the job (the GUI thread). Jobs have no Qt
    parent: a running job stays alive (in `_LIVE`) even if the page that started it is gone,
    and connections to a deleted page's methods simply drop."""

    progress = Signal(object)  # engine.types.Progress
    epoch = Signal(object)  # engine.train.EpochMetrics
    item = Signal(object)  # partial results, every one delivered (e.g. thumbnails)
    succeeded = Signal(object)
    failed = Signal(object)  # JobError
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[["BackgroundJob"], Any], name: str = "job", owner: Optional[QObject] = None):
        super().__init__()
        self.cancel = CancelToken()
        self.stop = CancelToken()
        self.name = name
        self.owner = owner  # the widget that started it (for "which jobs are mine")
        self._last_progress = 0.0
        self._thread = _Thread(self, fn)
        self._thread.setObjectName(f"sightline-wizard-{name}")
        # Forwarded through slots of this object, not signal to signal: a queued event then
        # belongs to the job (dropped with it), and the pages' sender() is always alive.
        self._thread.progress.connect(self._forward_progress)
        self._thread.epoch.connect(self._forward_epoch)
        self._thread.item.connect(self._forward_item)
        self._thread.finished.connect(self._on_done)
        self._running = False
        self.result: Any = None
        self.error: Optional[JobError] = None

    # -- called from the worker thread ------------------------------------------------------

    def report_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        last = progress.total and progress.done >= progress.total
        if last or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._thread.progress.emit(progress)

    def report_epoch(self, metrics: Any) -> None:
        self._thread.epoch.emit(metrics)

    def report_item(self, value: Any) -> None:
        self._thread.item.emit(value)

    # -- the GUI thread ---------------------------------------------------------------------

    def start(self) -> "BackgroundJob":
        _watch_quit()
        self._running = True
        _LIVE.add(self)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._running

    def request_cancel(self) -> None:
        self.cancel.cancel()

    def request_stop(self) -> None:
        self.stop.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the thread has ended (only for shutdown; the GUI uses the signals)."""
        return self._thread.wait(ms)

    @Slot(object)
    def _forward_progress(self, value: Any) -> None:
        self.progress.emit(value)

    @Slot(object)
    def _forward_epoch(self, value: Any) -> None:
        self.epoch.emit(value)

    @Slot(object)
    def _forward_item(self, value: Any) -> None:
        self.item.emit(value)

    @Slot()
    def _on_done(self) -> None:
        self._thread.wait()  # `finished` is sent as run() returns: the thread is ending now
        # Break the job <-> thread reference cycle here, on the GUI thread: left to Python's
        # cycle collector, these QObjects could be destroyed from whichever thread it runs in.
        self._thread.job = self._thread.fn = None
        if not self._running:
            return
        self._running = False
        _LIVE.discard(self)  # before the signals: their slots may ask which jobs still run
        result, error = self._thread.outcome
        if isinstance(error, Cancelled) or (error is None and self.cancel.cancelled):
            self.cancelled.emit()
        elif error is not None:
            self.error = error
            self.failed.emit(error)
        else:
            self.result = result
            self.succeeded.emit(result)
        self.finished.emit()
