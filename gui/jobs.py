"""The one bridge from engine work to Qt: nothing else in `gui/` runs engine work.

`ModelJobs`  the model on its device. A worker thread owns the `Detector`; the main thread
             hands it one job at a time (the current image first, then "Analyse all"), so the
             device never runs two models at once. Every result is saved to the review store
             by the worker, then delivered by a queued signal with the job's generation
             number: the window drops results for an image the user has already left.
             Other model work goes through the same thread: `run_long` (video, live mode: with
             the detector) and `run_short` (a trained classifier labelling one image: no
             detector), so nothing else uses the device while a detection job runs.
`TaskPool`   short background work that is not the model: decoding images for display,
             thumbnails, store reads, folder scans, exports. Results come back on the main
             thread through callbacks, in the order they finish.

Neither ever blocks the main thread, and neither uses `QThread.terminate()`: cancelling
clears what has not started and sets the `CancelToken` of what has.
"""

from __future__ import annotations

import itertools
import os
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

# imported here, not in the worker: imports hold a global lock. open_model gives a Detector, or a
# segmenter run as one (issue 15).
from engine.segment.as_detector import open_model
from engine.images import ImageLoadError, load_image
from engine.types import CancelToken, Detections, Progress

# --- short tasks -----------------------------------------------------------------------------


@dataclass
class Task:
    """A submitted piece of work; `cancel` is passed to functions that accept `cancel=`."""

    fn: Callable
    args: tuple
    on_done: Optional[Callable[[Any], None]] = None
    on_error: Optional[Callable[[str], None]] = None
    cancel: CancelToken = field(default_factory=CancelToken)
    with_cancel: bool = False
    on_progress: Optional[Callable[[Progress], None]] = None


class _Relay(QObject):
    done = Signal(object, object)
    failed = Signal(object, str)
    progress = Signal(object, object)


class _Runnable(QRunnable):
    def __init__(self, task: Task, relay: _Relay):
        super().__init__()
        self.task, self.relay = task, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        task = self.task
        if task.cancel.cancelled:
            return
        try:
            kwargs = {"cancel": task.cancel} if task.with_cancel else {}
            if task.on_progress is not None:
                kwargs["progress"] = lambda p: self.relay.progress.emit(task, p)
            result = task.fn(*task.args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            self.relay.failed.emit(task, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
            return
        self.relay.done.emit(task, result)


class TaskPool(QObject):
    """Background threads for short, non-model work; callbacks run on the main thread."""

    def __init__(self, threads: int = 2, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._relay.progress.connect(self._on_progress)  # bound methods: queued to this thread
        self._live: set[int] = set()

    def submit(self, fn: Callable, *args, on_done=None, on_error=None, on_progress=None,
               with_cancel: bool = False, priority: int = 0) -> Task:
        """Run `fn(*args)` in the pool. `with_cancel` passes `cancel=` (a CancelToken),
        `on_progress` passes `progress=` (called from the thread, delivered here)."""
        task = Task(fn, args, on_done, on_error, with_cancel=with_cancel, on_progress=on_progress)
        self._live.add(id(task))
        self._pool.start(_Runnable(task, self._relay), priority)
        return task

    def _on_done(self, task: Task, result: Any) -> None:
        self._live.discard(id(task))
        if task.on_done is not None and not task.cancel.cancelled:
            task.on_done(result)

    def _on_progress(self, task: Task, progress: Progress) -> None:
        if not task.cancel.cancelled:
            task.on_progress(progress)

    def _on_failed(self, task: Task, message: str) -> None:
        self._live.discard(id(task))
        if task.on_error is not None:
            task.on_error(message.splitlines()[0])
        else:
            import sys

            sys.stderr.write(f"sightline: background task failed: {message}\n")

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self, wait_ms: int = 10_000) -> None:
        self._pool.clear()
        self._pool.waitForDone(wait_ms)


# --- the model ------------------------------------------------------------------------------


@dataclass
class Job:
    """One image for the model. `generation` is the view's number when it was asked for."""

    job_id: int
    path: str
    model: str
    device: str
    generation: int = 0
    batch: bool = False
    image: Optional[np.ndarray] = None  # already decoded for display, saves a second decode
    cancel: CancelToken = field(default_factory=CancelToken)
    work: Optional[Callable] = None  # work(detector, cancel) -> value (run_long); work(cancel) (run_short)
    on_done: Optional[Callable] = None  # long/short job: called on the main thread with its JobResult
    uses_detector: bool = True  # False: a short job (run_short), which needs no detector loaded


@dataclass
class JobResult:
    job: Job
    detections: Optional[Detections] = None
    result_id: Optional[int] = None
    failure: str = ""  # the image could not be analysed (unreadable, out of memory)
    model_error: str = ""  # the model itself could not run: no job of this model can
    cancelled: bool = False
    value: Any = None  # what a long job's work returned

    @property
    def ok(self) -> bool:
        return not (self.failure or self.model_error or self.cancelled)


class _ModelWorker(QObject):
    """Lives in the model thread; owns the Detector and the store connection of that thread."""

    finished = Signal(object)  # JobResult
    model_state = Signal(str, str, str)  # state ("loading", "ready", "failed"), model, detail

    def __init__(self, store):
        super().__init__()
        self.store = store
        self._detector = None
        self._key: Optional[tuple[str, str]] = None

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.cancelled:
            self.finished.emit(JobResult(job, cancelled=True))
            return
        if not job.uses_detector:
            self.finished.emit(self._run_short(job))
            return
        try:
            detector = self._detector_for(job.model, job.device)
        except Exception as exc:  # noqa: BLE001 - missing weights, bad device, broken file
            self.model_state.emit("failed", job.model, str(exc))
            self.finished.emit(JobResult(job, model_error=str(exc)))
            return
        if job.work is not None:
            self.finished.emit(self._run_work(detector, job))
            return
        self.finished.emit(self._analyse(detector, job))

    @staticmethod
    def _run_work(detector, job: Job) -> JobResult:
        try:
            value = job.work(detector, job.cancel)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, the worker lives on
            return JobResult(job, failure=f"{type(exc).__name__}: {exc}", cancelled=job.cancel.cancelled)
        return JobResult(job, value=value, cancelled=job.cancel.cancelled)

    @staticmethod
    def _run_short(job: Job) -> JobResult:
        try:
            value = job.work(job.cancel)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, the worker lives on
            return JobResult(job, failure=f"{type(exc).__name__}: {exc}", cancelled=job.cancel.cancelled)
        return JobResult(job, value=value, cancelled=job.cancel.cancelled)

    def _analyse(self, detector, job: Job) -> JobResult:
        try:
            image = job.image if job.image is not None else load_image(job.path)
            job.image = None
            detections = detector.predict([image])[0]
        except ImageLoadError as exc:
            detections = Detections.empty((0, 0), detector.class_names, model_name=job.model, failure=exc.reason)
        except Exception as exc:  # noqa: BLE001 - one bad image never stops the others
            detections = Detections.empty((0, 0), detector.class_names, model_name=job.model,
                                          failure=f"analysis failed: {exc}")
        try:
            result_id = self.store.save_result(job.path, job.model, detections)
        except Exception as exc:  # noqa: BLE001 - a vanished file or a full disk
            return JobResult(job, detections, None, failure=detections.failure or f"not saved: {exc}")
        return JobResult(job, detections, result_id, failure=detections.failure)

    def _detector_for(self, model: str, device: str):
        if self._key == (model, device):
            return self._detector
        self._detector, self._key = None, None
        self.model_state.emit("loading", model, "")
        _limit_cpu_threads()
        detector = open_model(model, device=device)
        self._detector, self._key = detector, (model, device)
        self.model_state.emit("ready", model, detector.device_info.description)
        return detector


def _favour_main_thread() -> None:
    """Hand Python's GIL over every 2 ms (not 5): the window's thread waits less for it
    while background threads run Python."""
    import sys

    sys.setswitchinterval(min(sys.getswitchinterval(), 0.002))


def _limit_cpu_threads() -> None:
    """Leave one core to the window so the model never makes it stutter."""
    cores = os.cpu_count() or 2
    torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - 1)))


_STILL_RUNNING: list[QThread] = []


class ModelJobs(QObject):
    """Queues model work: one job on the device at a time, the current image before the batch.

    Signals (main thread): `result(JobResult)`, `started(Job)`, `model_state(state, model,
    detail)`, `batch_progress(Progress)`, `batch_finished(cancelled: bool)`.
    """

    result = Signal(object)
    started = Signal(object)
    model_state = Signal(str, str, str)
    batch_progress = Signal(object)
    batch_finished = Signal(bool)
    _submit = Signal(object)

    def __init__(self, store, parent: Optional[QObject] = None):
        super().__init__(parent)
        _favour_main_thread()
        self._ids = itertools.count(1)
        self._thread = QThread()
        self._thread.setObjectName("sightline-model")
        self._worker = _ModelWorker(store)
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._worker.finished.connect(self._on_finished)
        self._worker.model_state.connect(self.model_state)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # never leave the thread running at exit
        self._running: Optional[Job] = None
        self._priority: Optional[Job] = None
        self._batch: deque[Job] = deque()
        self._long: deque[Job] = deque()
        self._short: deque[Job] = deque()
        self._batch_left: set[str] = set()
        self._batch_total = 0
        self._batch_began = 0.0
        self.jobs_run = 0  # how many jobs reached the model (tests count re-runs with it)

    # asking ------------------------------------------------------------------------------

    def request(self, path: str, model: str, device: str, generation: int, image=None) -> None:
        """Analyse the image the user is looking at, before anything queued."""
        running = self._running
        if running and (running.path, running.model, running.device) == (path, model, device):
            running.generation = generation  # already on the device: adopt its result
            self._priority = None
            return
        self.forget_pending()
        self._batch = deque(j for j in self._batch if j.path != path)
        self._priority = Job(next(self._ids), path, model, device, generation, image=image)
        self._dispatch()

    def analyse_all(self, paths: list[str], model: str, device: str) -> None:
        """Queue every path (after the current image). Progress and the end are signalled."""
        queued = {j.path for j in self._batch}
        fresh = [p for p in paths if p not in queued]
        self._batch.extend(Job(next(self._ids), p, model, device, batch=True) for p in fresh)
        if not self._batch_left:
            self._batch_total, self._batch_began = 0, time.monotonic()
        self._batch_left.update(fresh)
        self._batch_total += len(fresh)
        self._emit_progress()
        if not self._batch_left:
            self.batch_finished.emit(False)
        self._dispatch()

    def run_long(self, model: str, device: str, work: Callable, on_done: Optional[Callable] = None) -> Job:
        """Run `work(detector, cancel)` on the model thread with this model's detector: a video
        analysis, or live mode, which hands the detector to its own analyser thread and holds the
        device until cancelled. Image jobs wait meanwhile (one model job on the device at a time);
        the image the user asks for goes first once it ends. `on_done(JobResult)` (main thread)
        gets `value`, `failure`, `model_error` or `cancelled`. Cancel with `job.cancel.cancel()`
        or `cancel_long(job)`."""
        job = Job(next(self._ids), "", model, device, work=work, on_done=on_done)
        self._long.append(job)
        self._dispatch()
        return job

    def run_short(self, work: Callable, on_done: Optional[Callable] = None) -> Job:
        """Run `work(cancel)` on the model thread, without a detector: short model work that is
        not detection (a trained classifier labelling the shown image's detections). It waits
        for the job on the device, then goes before queued long and batch jobs (the image the
        user asks for still goes first). `on_done(JobResult)` (main thread) gets `value`,
        `failure` or `cancelled`. Cancel with `cancel_long(job)`."""
        job = Job(next(self._ids), "", "", "", work=work, on_done=on_done, uses_detector=False)
        self._short.append(job)
        self._dispatch()
        return job

    def cancel_long(self, job: Job) -> None:
        """Cancel a job of `run_long` or `run_short`: one not started ends here (its on_done
        says cancelled), a running one is told through its CancelToken."""
        job.cancel.cancel()
        for name in ("_long", "_short"):
            queue = getattr(self, name)
            if any(j is job for j in queue):  # not started: it ends here
                setattr(self, name, deque(j for j in queue if j is not job))
                if job.on_done is not None:
                    job.on_done(JobResult(job, cancelled=True))
                return

    def cancel_batch(self) -> None:
        if self._running is not None and self._running.batch:
            self._running.cancel.cancel()
        self._batch.clear()
        was_running = bool(self._batch_left)
        self._batch_left.clear()
        if was_running:
            self.batch_finished.emit(True)

    def forget_pending(self) -> None:
        """Drop the current-image request that has not started (the view moved on); an image
        that "Analyse all" still needs goes back to the front of its queue."""
        job, self._priority = self._priority, None
        if job is not None and job.path in self._batch_left:
            self._batch.appendleft(Job(next(self._ids), job.path, job.model, job.device, batch=True))

    # state -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def running(self) -> Optional[Job]:
        return self._running

    @property
    def batch_active(self) -> bool:
        return bool(self._batch_left)

    def queued_paths(self) -> set[str]:
        return {j.path for j in self._batch}

    # machinery ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._running is not None:
            return
        if self._priority is not None:
            job, self._priority = self._priority, None
        elif self._short:
            job = self._short.popleft()
        elif self._long:
            job = self._long.popleft()
        elif self._batch:
            job = self._batch.popleft()
        else:
            return
        self._running = job
        if job.work is not None:  # not an image: no `started`, not counted
            self._submit.emit(job)
            return
        self.jobs_run += 1
        self.started.emit(job)
        self._submit.emit(job)

    @Slot(object)
    def _on_finished(self, result: JobResult) -> None:
        self._running = None
        if result.job.work is not None:
            if result.model_error:
                self.cancel_batch()
            if result.job.on_done is not None:
                result.job.on_done(result)
            self._dispatch()
            return
        if result.model_error:
            self.cancel_batch()
        path = result.job.path
        if path in self._batch_left and not result.cancelled:
            self._batch_left.discard(path)
            self._emit_progress()
            if not self._batch_left:
                self.batch_finished.emit(False)
        self.result.emit(result)
        self._dispatch()

    def _emit_progress(self) -> None:
        done = self._batch_total - len(self._batch_left)
        elapsed = time.monotonic() - self._batch_began
        self.batch_progress.emit(Progress(done, self._batch_total, "analysing", elapsed))

    def shutdown(self, wait_ms: int = 30_000) -> bool:
        """Stop after the job on the device (never kills it); True when the thread ended."""
        self._priority = None
        self._batch.clear()
        self._batch_left.clear()
        for job in (*self._long, *self._short):
            job.cancel.cancel()
        self._long.clear()
        self._short.clear()
        if self._running is not None:
            self._running.cancel.cancel()
        if not self._thread.isRunning():
            return True
        self._thread.quit()
        if self._thread.wait(wait_ms):
            return True
        _STILL_RUNNING.append(self._thread)  # never destroy a running QThread (Qt aborts)
        return False
