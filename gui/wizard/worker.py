"""The wizard's background jobs: `gui.work.Worker`s whose function is called as `fn(job)`.

`fn(job)` reads `job.cancel` / `job.stop` (engine CancelTokens) and reports through
`job.report_progress(Progress)` and `job.report_epoch(EpochMetrics)`, at any rate: progress is
throttled to a few signals a second. A scan, preview or save runs on the work pool; training
runs on the window's device scheduler (`start(on_device=True)`), so it never shares the device
with "Analyse all", live video or another model job. A failure arrives as a `JobError`.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from engine.types import Cancelled
from gui.work import Worker, default_pool, live_workers


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


class BackgroundJob(Worker):
    """Run `fn(job)` in the background. Exactly one of succeeded / failed (a JobError) /
    cancelled is emitted, then `finished`, on the GUI thread. Jobs have no Qt parent: a running
    job stays alive (in the work layer) even if the page that started it is gone."""

    def __init__(self, fn: Callable[["BackgroundJob"], Any], name: str = "job", owner=None):
        super().__init__(fn, name=name, owner=owner, pass_worker=True)

    def _call(self) -> Any:
        try:
            return self.fn(self)
        except Cancelled:
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure is shown to the user
            logging.getLogger(__name__).error("wizard job failed", exc_info=exc)
            raise describe_error(exc) from None

    def start(self, on_device: bool = False) -> "BackgroundJob":
        """On the work pool; with `on_device`, on the device scheduler (model work)."""
        if on_device:
            from gui.scheduler import device_scheduler

            device_scheduler().run_worker(self)
        else:
            default_pool().start(self)
        return self


def live_jobs() -> list[BackgroundJob]:
    return [w for w in live_workers() if isinstance(w, BackgroundJob)]


def shutdown_all() -> None:
    """Cancel every live job; never waits (a training step in progress is abandoned safely)."""
    for job in live_jobs():
        job.request_cancel()
