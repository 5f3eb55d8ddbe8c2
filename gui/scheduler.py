"""The device scheduler: every model job in the window runs here, one at a time, on one
device thread: the image the user is looking at first, then short model work (a classifier
labelling the shown image), then long jobs (video analysis, live mode, wizard training),
then "Analyse all". So the device never runs two models at once, and training never shares
the GPU with a batch.

A detection job's result is saved to the review store on the device thread (the store's
writer makes it durable), then delivered by a queued signal with the generation number the
view had when it was asked; the view drops what is no longer its own. Errors are exception
objects. The device thread is a daemon: at quit it is never waited for, and a model call in
progress is abandoned (see `gui.app`).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal, Slot

from engine.images import ImageLoadError, load_image
from engine.types import CancelToken, Cancelled, Detections, Progress

log = logging.getLogger(__name__)


def load_detector(model: str, device: str):
    """The real detector factory (tests pass their own to the scheduler): a detector, or a
    segmenter that answers like one (engine.segment.as_detector)."""
    from engine.segment.as_detector import open_model

    return open_model(model, device=device)


@dataclass
class Job:
    """One piece of model work. `generation` is the view's number when it was asked for."""

    job_id: int
    path: str
    model: str
    device: str
    generation: int = -1  # -1: asked by no view (a batch job)
    batch: bool = False
    image: Optional[np.ndarray] = None  # already decoded for display, saves a second decode
    cancel: CancelToken = field(default_factory=CancelToken)
    work: Optional[Callable] = None  # work(detector, cancel) (long) or work(cancel) (short)
    on_done: Optional[Callable] = None  # long/short job: called on the GUI thread with its JobResult
    uses_detector: bool = True
    worker: Any = None  # a gui.work.Worker run here (wizard training): it reports for itself


@dataclass
class JobResult:
    job: Job
    detections: Optional[Detections] = None
    result_id: Optional[int] = None
    failure: str = ""  # the image could not be analysed (unreadable, out of memory), in words
    model_error: Optional[BaseException] = None  # the model itself could not run
    error: Optional[BaseException] = None  # a long or short job raised this
    cancelled: bool = False
    value: Any = None  # what a long or short job's work returned

    @property
    def ok(self) -> bool:
        return not (self.failure or self.model_error or self.error or self.cancelled)


class _DeviceWorker:
    """Runs on the device thread: owns the detector and runs each job it is handed."""

    def __init__(self, store, factory: Callable, state: Callable[[str, str, str], None]):
        self.store, self.factory, self.state = store, factory, state
        self._detector = None
        self._key: Optional[tuple[str, str]] = None

    def run(self, job: Job) -> JobResult:
        if job.worker is not None:  # always run: a cancelled worker still says so, itself
            job.worker.execute()
            return JobResult(job)
        if job.cancel.cancelled:
            return JobResult(job, cancelled=True)
        if not job.uses_detector:
            return self._run_work(job, (job.cancel,))
        try:
            detector = self._detector_for(job.model, job.device)
        except Exception as exc:  # noqa: BLE001 - missing weights, bad device, broken file
            self.state("failed", job.model, str(exc))
            return JobResult(job, model_error=exc)
        if job.work is not None:
            return self._run_work(job, (detector, job.cancel))
        return self._analyse(detector, job)

    @staticmethod
    def _run_work(job: Job, args: tuple) -> JobResult:
        try:
            value = job.work(*args)
        except Cancelled:
            return JobResult(job, cancelled=True)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, the device thread lives on
            log.exception("model job failed")
            exc.__traceback__ = None
            return JobResult(job, failure=str(exc), error=exc, cancelled=job.cancel.cancelled)
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
        if job.cancel.cancelled and not job.batch:
            return JobResult(job, detections, None, failure=detections.failure, cancelled=True)
        try:
            result_id = self.store.save_result(job.path, job.model, detections)
        except Exception as exc:  # noqa: BLE001 - a vanished file, a full disk, a closed store
            return JobResult(job, detections, None, failure=detections.failure or f"not saved: {exc}")
        return JobResult(job, detections, result_id, failure=detections.failure)

    def _detector_for(self, model: str, device: str):
        if self._key == (model, device):
            return self._detector
        self._detector, self._key = None, None
        self.state("loading", model, "")
        _limit_cpu_threads()
        detector = self.factory(model, device)
        self._detector, self._key = detector, (model, device)
        info = getattr(detector, "device_info", None)
        self.state("ready", model, getattr(info, "description", ""))
        return detector


def _limit_cpu_threads() -> None:
    """Leave one core to the window so the model never makes it stutter."""
    cores = os.cpu_count() or 2
    torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - 1)))


def _favour_main_thread() -> None:
    """Hand Python's GIL over every 2 ms (not 5): the window's thread waits less for it."""
    import sys

    sys.setswitchinterval(min(sys.getswitchinterval(), 0.002))


class _Relay(QObject):
    """Lives on the GUI thread; the device thread emits through it (queued)."""

    finished = Signal(object)
    model_state = Signal(str, str, str)


class DeviceScheduler(QObject):
    """Queues model work: one job on the device at a time, the current image before the rest.

    Signals (GUI thread): `result(JobResult)`, `started(Job)`, `model_state(state, model,
    detail)`, `batch_progress(Progress)`, `batch_finished(cancelled: bool)`.
    `detector_factory(model, device)` makes the detector (default: `engine.detect.Detector`).
    """

    result = Signal(object)
    started = Signal(object)
    model_state = Signal(str, str, str)
    batch_progress = Signal(object)
    batch_finished = Signal(bool)

    def __init__(self, store, parent: Optional[QObject] = None, detector_factory: Callable = load_detector):
        super().__init__(parent)
        _favour_main_thread()
        self._ids = itertools.count(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.model_state.connect(self.model_state)
        self._device = _DeviceWorker(store, detector_factory, self._relay.model_state.emit)
        self._inbox: "queue.Queue[Optional[Job]]" = queue.Queue()
        self._thread = threading.Thread(target=self._device_loop, name="sightline-device", daemon=True)
        self._thread.start()
        self._running: Optional[Job] = None
        self._priority: Optional[Job] = None
        self._batch: deque[Job] = deque()
        self._long: deque[Job] = deque()
        self._short: deque[Job] = deque()
        self._batch_left: set[str] = set()
        self._batch_total = 0
        self._batch_began = 0.0
        self._closed = False
        self.jobs_run = 0  # how many image jobs reached the model (tests count re-runs with it)

    # asking ------------------------------------------------------------------------------

    def request(self, path: str, model: str, device: str, generation: int, image=None) -> None:
        """Analyse the image the user is looking at, before anything queued."""
        running = self._running
        if running and (running.path, running.model, running.device) == (path, model, device) and running.work is None:
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
        """Run `work(detector, cancel)` on the device thread with this model's detector (a video
        analysis, or live mode, which holds the device until cancelled). Image jobs wait
        meanwhile; the image the user asks for goes first once it ends. `on_done(JobResult)`
        (GUI thread) gets `value`, `error`, `model_error` or `cancelled`."""
        job = Job(next(self._ids), "", model, device, work=work, on_done=on_done)
        self._long.append(job)
        self._dispatch()
        return job

    def run_short(self, work: Callable, on_done: Optional[Callable] = None) -> Job:
        """Run `work(cancel)` on the device thread without a detector (a trained classifier
        labelling the shown image), before queued long and batch jobs."""
        job = Job(next(self._ids), "", "", "", work=work, on_done=on_done, uses_detector=False)
        self._short.append(job)
        self._dispatch()
        return job

    def run_worker(self, worker) -> Job:
        """Run a `gui.work.Worker` on the device thread as a long job (wizard training): it
        waits for the job on the device, and batch jobs wait for it."""
        worker.mark_started()
        job = Job(next(self._ids), "", "", "", work=lambda cancel: None, uses_detector=False, worker=worker)
        self._long.append(job)
        self._dispatch()
        return job

    def cancel_long(self, job: Job) -> None:
        """Cancel a long or short job: one not started ends here (its on_done says
        cancelled), a running one is told through its CancelToken."""
        job.cancel.cancel()
        for name in ("_long", "_short"):
            waiting = getattr(self, name)
            if any(j is job for j in waiting):
                setattr(self, name, deque(j for j in waiting if j is not job))
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

    def _next_job(self) -> Optional[Job]:
        if self._priority is not None:
            job, self._priority = self._priority, None
            return job
        for waiting in (self._short, self._long, self._batch):
            if waiting:
                return waiting.popleft()
        return None

    def _dispatch(self) -> None:
        if self._running is not None or self._closed:
            return
        job = self._next_job()
        if job is None:
            return
        self._running = job
        if job.work is None:  # an image: counted and announced
            self.jobs_run += 1
            self.started.emit(job)
        self._inbox.put(job)

    def _device_loop(self) -> None:
        while True:
            job = self._inbox.get()
            if job is None:
                return
            result = self._device.run(job)
            try:
                self._relay.finished.emit(result)
            except RuntimeError:  # the window is gone (quitting): nobody waits for this
                return

    @Slot(object)
    def _on_finished(self, result: JobResult) -> None:
        self._running = None
        if self._closed:
            return
        if result.model_error:
            self.cancel_batch()
        if result.job.work is not None:
            if result.job.on_done is not None:
                result.job.on_done(result)
        else:
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

    @property
    def abandoned(self) -> bool:
        """After `shutdown`: a model call is still running (and is left to the process end)."""
        return self._thread.is_alive() and self._running is not None

    def shutdown(self) -> None:
        """Cancel everything and stop taking work; never waits for the model call on the
        device (it cannot be interrupted): the daemon thread is left to the process end."""
        self._closed = True
        self._priority = None
        for job in (*self._batch, *self._long, *self._short, *([self._running] if self._running else [])):
            job.cancel.cancel()
            if job.worker is not None:
                job.worker.request_cancel()
        self._batch.clear()
        self._batch_left.clear()
        self._long.clear()
        self._short.clear()
        if self._running is not None:
            self._running.cancel.cancel()
        self._inbox.put(None)


_DEFAULT: Optional[DeviceScheduler] = None


def set_device_scheduler(scheduler: Optional[DeviceScheduler]) -> None:
    """The window registers its scheduler: the training wizard runs its training there."""
    global _DEFAULT
    _DEFAULT = scheduler


def device_scheduler() -> DeviceScheduler:
    """The application's device scheduler (one is made when no window made one: the
    standalone wizard, which runs no detector)."""
    global _DEFAULT
    if _DEFAULT is None or _DEFAULT._closed:
        _DEFAULT = DeviceScheduler(store=None)
    return _DEFAULT
