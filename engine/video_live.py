"""Live analysis while a video plays: the newest frame wins.

The player hands every frame it shows to `LiveAnalyzer.submit`, which returns at once. One
worker thread analyses the most recent frame; a frame that arrives while the worker is busy
replaces the one waiting (which is counted as dropped), so at most one frame ever waits and
nothing queues up. Each finished `LiveResult` carries the frame it belongs to, so the front end
draws the overlay on that frame, never on a later one. `stats` gives the achieved analysis rate.

After a seek, `reset()` forgets the waiting frame, and results of frames submitted before the
reset are no longer delivered (generation number, as in the GUI's job bridge).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from engine.types import Detections
from engine.video_io import trim_heap

RATE_WINDOW_S = 3.0


@dataclass(frozen=True)
class LiveResult:
    frame_index: int
    time_s: float
    image: np.ndarray  # the RGB frame that was analysed (as submitted, not copied)
    detections: Detections
    generation: int
    latency_s: float  # from submit to result
    error: str = ""  # set when the model raised; detections are then empty


@dataclass(frozen=True)
class LiveStats:
    submitted: int
    analysed: int
    dropped: int  # frames replaced by a newer one before the worker took them
    rate: float  # analyses finished per second over the last few seconds
    busy: bool
    waiting: bool  # a frame is waiting for the worker (never more than one)


class LiveAnalyzer:
    """Analyses the newest submitted frame: on the thread that calls `run(cancel)` (the
    window's device thread), or on a thread of its own after `start()`.

    `on_result(LiveResult)` is called on the worker thread (a Qt front end emits a queued
    signal from it); `latest` returns the newest result for polling instead.
    """

    def __init__(self, detector, on_result: Optional[Callable[[LiveResult], None]] = None,
                 rate_window_s: float = RATE_WINDOW_S):
        self.detector = detector
        self.on_result = on_result
        self.rate_window_s = rate_window_s
        self._cond = threading.Condition()
        self._waiting: Optional[tuple[int, float, np.ndarray, int, float]] = None
        self._latest: Optional[LiveResult] = None
        self._generation = 0
        self._submitted = self._analysed = self._dropped = 0
        self._busy = False
        self._stopping = False
        self._finishes: deque = deque(maxlen=64)
        self._thread: Optional[threading.Thread] = None
        self.callback_error: Optional[BaseException] = None  # the last exception on_result raised

    # -- life -------------------------------------------------------------------------------
    def start(self) -> "LiveAnalyzer":
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._work, name="sightline-live", daemon=True)
                self._thread.start()
        return self

    def run(self, cancel=None) -> None:
        """Analyse submitted frames here until `stop()` or until `cancel` (a CancelToken) is set."""
        with self._cond:
            self._stopping = False
        self._work(cancel)
        with self._cond:
            if self._waiting is not None:
                self._waiting = None
                self._dropped += 1
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the worker after the frame in hand; the waiting frame is dropped."""
        with self._cond:
            self._stopping = True
            if self._waiting is not None:
                self._waiting = None
                self._dropped += 1
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "LiveAnalyzer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- front end calls --------------------------------------------------------------------
    def submit(self, frame_index: int, time_s: float, image: np.ndarray) -> None:
        """Offer the frame being shown; never blocks. The caller must not modify `image` later."""
        with self._cond:
            self._submitted += 1
            if self._waiting is not None:
                self._dropped += 1
            self._waiting = (frame_index, time_s, image, self._generation, time.perf_counter())
            self._cond.notify()

    def reset(self) -> None:
        """After a seek: forget the waiting frame and ignore results of earlier submissions."""
        with self._cond:
            self._generation += 1
            if self._waiting is not None:
                self._waiting = None
                self._dropped += 1
            self._latest = None

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def latest(self) -> Optional[LiveResult]:
        """The newest finished result of the current generation, or None."""
        return self._latest

    @property
    def stats(self) -> LiveStats:
        with self._cond:
            now = time.perf_counter()
            recent = [t for t in self._finishes if now - t <= self.rate_window_s]
            if len(recent) >= 2:
                span = max(recent[-1] - recent[0], now - recent[-1])
                rate = (len(recent) - 1) / span if span > 0 else 0.0
            else:
                rate = 0.0
            return LiveStats(self._submitted, self._analysed, self._dropped, rate, self._busy,
                             self._waiting is not None)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Blocks until no frame waits and the worker is idle (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._waiting is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- worker -----------------------------------------------------------------------------
    def _work(self, cancel=None) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._stopping and not (cancel and cancel.cancelled):
                    self._cond.wait(0.05 if cancel is not None else None)
                if self._stopping or (cancel is not None and cancel.cancelled):
                    self._cond.notify_all()
                    return
                index, time_s, image, generation, submitted_at = self._waiting
                self._waiting = None
                self._busy = True
            error = ""
            try:
                detections = self.detector.predict([image])[0]
            except Exception as exc:  # noqa: BLE001 - reported with the result, the worker lives on
                error = f"{type(exc).__name__}: {exc}"
                detections = Detections.empty(image.shape[:2], self.detector.class_names, failure=error)
            trim_heap()
            finished = time.perf_counter()
            result = LiveResult(index, time_s, image, detections, generation, finished - submitted_at, error)
            with self._cond:
                self._busy = False
                self._analysed += 1
                self._finishes.append(finished)
                current = generation == self._generation
                if current:
                    self._latest = result
                self._cond.notify_all()
            if current and self.on_result is not None:
                try:
                    self.on_result(result)
                except Exception as exc:  # noqa: BLE001 - a front-end bug must not stop live analysis
                    self.callback_error = exc

