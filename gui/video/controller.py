"""The open video, its playback clock, live mode and analysis runs (no widgets).

Frames are decoded off the GUI thread (`gui.work.WorkPool`), one read in flight at a time: the playback
clock says which frame is due (start frame + elapsed time x fps x speed), and a tick that finds
the previous read still busy is skipped, so slow decoding drops frames instead of falling behind.

Model work goes through `DeviceScheduler.run_long`, so the device still runs one model job at
a time: an analysis run is one long job (results saved per frame as they finish); live mode is
a long job that runs a `LiveAnalyzer` on the device thread (newest frame wins) and holds the
device until live mode ends. Image jobs wait behind either, and run once it ends. A frame the
player stops on that has no result is analysed by a short long job of its own, like an image.

Live mode shows the analysed frame with its result: while it plays, decoded frames go to the
analyser and the canvas shows each analysed frame with what was found on it when the result
comes (the latency is visible as a lag, the frame rate is the analysis rate); overlays are
never drawn on a frame they do not belong to. Paused, the frame is shown at once and its
result is added when it comes.
Answers for a video the user has closed are dropped by one generation number.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from engine.review import ReviewRecord
from engine.store import fingerprint
from engine.types import Progress
from engine.video import LiveAnalyzer, VideoAnalysis
from gui.video import frames as F
from gui.viewer.image_item import Pyramid
from gui.work import Generation

LIVE_STORED_KEPT = 256  # stored results of frames handed to the analyser, kept until their turn

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


class _Relay(QObject):
    """Signals emitted on worker threads, delivered (queued) on the GUI thread."""

    progress = Signal(object)  # Progress of an analysis run
    frame_done = Signal(str, int, object, float)  # path, frame, scores of a stored frame, inference seconds
    live = Signal(object, object)  # LiveResult, Pyramid of its frame


class VideoController(QObject):
    opened = Signal(object)  # VideoInfo; None when the video was closed
    frame_shown = Signal(int)  # index of the frame on the canvas
    frame_image = Signal(object)  # Pyramid of the frame to draw (the canvas keeps its zoom)
    playing_changed = Signal(bool)
    marks_changed = Signal()  # analysed frames changed
    live_changed = Signal(bool)
    live_result = Signal(object)  # LiveResult of the current live generation
    analysis_started = Signal()
    analysis_progress = Signal(object)  # Progress
    analysis_finished = Signal(bool, str)  # cancelled, a note for the user
    failed = Signal(str)  # a message naming the file

    def __init__(self, review, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.review = review  # the ReviewController: store, pool, jobs, model, filter, decisions
        self.store, self.pool, self.jobs = review.store, review.pool, review.jobs
        self.video: Optional[F.OpenedVideo] = None
        self.current = -1
        self.speed = 1.0
        self.playing = False
        self.shown_reads = self.skipped_ticks = 0
        self._generation = Generation()  # bumped on open/close: answers for an older video are dropped
        self._reading = False
        self._wanted: Optional[int] = None
        self._position = -1  # the last frame read: the playback position (ahead of `current` in live mode)
        self.pixels: Optional[tuple[int, np.ndarray]] = None  # (frame, RGB) on the canvas
        self._live_stored: dict[int, object] = {}  # frame handed to the analyser -> its stored record
        self._frame_job = None  # the shown frame's own analysis (no result stored for it yet)
        self._left = False  # a listed image has the canvas: frames still on their way are not drawn
        self._clock = (0.0, 0)  # (perf_counter at start, frame at start)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._relay = _Relay(self)
        self._relay.progress.connect(self.analysis_progress)
        self._relay.frame_done.connect(self._frame_stored)
        self._relay.live.connect(self._live_result)
        self.analyser: Optional[LiveAnalyzer] = None
        self._live_job = None
        self._analysis_job = None
        self._stamp = None

    # opening -----------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.video.path if self.video else ""

    @property
    def frame_count(self) -> int:
        return self.video.frame_count if self.video else 0

    @property
    def fps(self) -> float:
        return self.video.info.fps if self.video else 0.0

    @property
    def analysed(self) -> dict[int, np.ndarray]:
        return self.video.scores if self.video else {}

    def open(self, path: str) -> None:
        """Open a video in the background; `opened` or `failed` follows."""
        self.close()
        generation = self._generation.value
        model = self.review.model
        self.pool.submit(F.open_video, path, self.store, model,
                         on_done=lambda v: self._opened(generation, v),
                         on_error=lambda exc: self._open_failed(generation, path, exc))

    def _opened(self, generation: int, video: F.OpenedVideo) -> None:
        if not self._generation.is_current(generation):
            video.reader.close()  # (not dropped by the work layer: the reader must be closed)
            return
        self.video, self._stamp = video, fingerprint(video.path)
        self.current = -1
        self.opened.emit(video.info)
        self.marks_changed.emit()
        self.seek(0)

    def _open_failed(self, generation: int, path: str, exc: BaseException) -> None:
        if self._generation.is_current(generation):
            self.failed.emit(str(exc))

    def close(self) -> None:
        self.pause()
        self.stop_live()
        self.cancel_analysis()
        self.cancel_frame_job()
        self._generation.next()
        self._wanted, self.pixels = None, None
        if self.video is not None:
            reader = self.video.reader
            self.pool.submit(reader.close)  # after a read that may still run (the reader's lock)
            self.video = None
            self.current = self._position = -1
            self.opened.emit(None)

    # showing frames ----------------------------------------------------------------------

    def leave(self) -> None:
        """A listed image takes the canvas: stop, and draw nothing until the user comes back."""
        self.pause()
        self.stop_live()
        self.cancel_frame_job()
        self._left, self._wanted = True, None

    def come_back(self) -> None:
        self._left = False

    def seek(self, index: int) -> None:
        if self.video is None:
            return
        self._left = False
        index = max(0, min(self.frame_count - 1, int(index)))
        if self.playing:
            self._clock = (time.perf_counter(), index)
        if self.analyser is not None:
            self.analyser.reset()  # results of frames before the seek are not drawn
        self._request(index)

    def step(self, delta: int) -> None:
        self.pause()
        base = self._wanted if self._wanted is not None else self.current
        self.seek(base + delta)

    def _request(self, index: int) -> None:
        self._wanted = index
        if not self._reading:
            self._read(index)

    def _read(self, index: int) -> None:
        self._reading = True
        generation, video, model = self._generation.value, self.video, self.review.model
        self.pool.submit(F.read_frame, video.reader, video.path, index, self.store, model, index in video.scores,
                         on_done=lambda shown: self._read_done(generation, shown),
                         on_error=lambda exc: self._read_failed(generation, exc))

    def _read_failed(self, generation: int, exc: BaseException) -> None:
        self._reading = False
        if self._generation.is_current(generation):
            self._wanted = None
            self.failed.emit(f"{self.path}: {exc}")
        else:
            self._read_wanted()

    def _read_wanted(self) -> None:
        """A read of a closed video ended: the frame the open video wants meanwhile is read now."""
        wanted, self._wanted = self._wanted, None
        if wanted is not None and self.video is not None:
            self._request(wanted)

    def _read_done(self, generation: int, shown: F.ShownFrame) -> None:
        self._reading = False  # (not dropped by the work layer: the read slot must be freed)
        if not self._generation.is_current(generation) or self.video is None:
            self._read_wanted()
            return
        if self._left:
            return
        if shown.frame_count and shown.frame_count < self.video.frame_count:  # a short file's real end
            self.video.frame_count = shown.frame_count
            self.opened.emit(self.video.info)
        if shown.rgb is not None:
            self._position = shown.index
            if self.analyser is not None and self.playing:
                self._to_analyser(shown)  # drawn when its result comes
            else:
                self._draw(shown.index, shown.rgb, shown.levels, shown.stored)
                if self.analyser is not None:
                    self.analyser.reset()  # results of frames before this one are not drawn over it
                    if shown.stored is None:
                        self._to_analyser(shown)
                elif shown.stored is None:
                    self._analyse_shown(shown.index, shown.rgb)
        wanted, self._wanted = self._wanted, None
        if shown.rgb is None:  # past the real end (a short file): stop on the last frame there is
            self.pause()
            last = self.video.frame_count - 1
            if 0 <= last < shown.index and last != self.current:
                self._request(last)
            return
        if wanted is not None and wanted != shown.index:
            self._request(wanted)

    def _draw(self, index: int, rgb: np.ndarray, levels: Pyramid, review: Optional[ReviewRecord]) -> None:
        """Frame `index` on the canvas with `review` (its result, None: none yet)."""
        self.current = index
        self.pixels = (index, rgb)
        self.shown_reads += 1
        self.frame_image.emit(levels)
        self.review.show_other(review)
        self.frame_shown.emit(index)

    def frame_pixels(self, review) -> Optional[np.ndarray]:
        """The decoded pixels of `review`'s frame while it is on the canvas (for the classifier)."""
        if self.pixels is None or review is None or review.path != self.path or review.frame != self.pixels[0]:
            return None
        return self.pixels[1]

    def refresh(self) -> None:
        """Show the current frame again (its result may have been stored meanwhile)."""
        if self.video is not None and self.current >= 0 and not self.playing and not self._left:
            self._request(self.current)

    # playback ----------------------------------------------------------------------------

    def play(self) -> None:
        if self.video is None or self.playing:
            return
        self._left = False
        start = self.current if 0 <= self.current < self.frame_count - 1 else 0
        self.playing = True
        self._clock = (time.perf_counter(), start)
        self._timer.start(max(4, int(500 / (self.fps * self.speed))))  # twice per due frame
        if start != self.current:
            self._request(start)
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self.playing = False
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float) -> None:
        if self.playing:
            self._clock = (time.perf_counter(), max(self.current, 0))
            self._timer.setInterval(max(4, int(500 / (self.fps * speed))))
        self.speed = speed

    def due_frame(self) -> int:
        began, frame = self._clock
        return frame + int((time.perf_counter() - began) * self.fps * self.speed)

    def _tick(self) -> None:
        due = self.due_frame()
        if due >= self.frame_count:
            self._request(self.frame_count - 1)
            self.pause()
            return
        if due == self._position or due == self._wanted:
            return
        if self._reading:
            self.skipped_ticks += 1  # decoding is behind: this frame is skipped, not queued
            self._wanted = due
            return
        self._request(due)

    # live mode ---------------------------------------------------------------------------

    def start_live(self) -> bool:
        if self.video is None or self.analyser is not None:
            return False
        problem = self.review.model_problem()
        if problem:
            self.failed.emit(problem)
            return False
        relay = self._relay
        analyser = LiveAnalyzer(None, on_result=lambda result: relay.live.emit(result, Pyramid(result.image)))
        self.cancel_frame_job()  # the analyser takes the shown frame instead

        def lend(detector, cancel):
            analyser.detector = detector
            analyser.run(cancel)  # here, on the device thread, until live mode ends
            return analyser.stats

        self.analyser = analyser
        self._live_job = self.jobs.run_long(self.review.model, self.review.device, lend, self._live_ended)
        if self.current >= 0 and not self._reading:
            self._request(self.current)  # the shown frame is the first one analysed
        self.live_changed.emit(True)
        return True

    def stop_live(self) -> None:
        if self._live_job is not None:
            self.jobs.cancel_long(self._live_job)
        self._end_live()

    def _end_live(self) -> None:
        self._live_job, self.analyser = None, None
        self._live_stored.clear()

    def settle(self) -> None:
        """After live mode, paused: show the frame where playback stopped (live mode showed the
        last analysed one, which may be older)."""
        if self.video is not None and not self.playing and self.analyser is None and self._position != self.current >= 0:
            self._request(self._position)

    def _live_ended(self, result) -> None:
        if result.job is self._live_job:
            self._end_live()
            if result.model_error or result.failure:
                self.failed.emit(f"Live mode stopped: {result.model_error or result.failure}")
        self.live_changed.emit(self.analyser is not None)

    def _to_analyser(self, shown: F.ShownFrame) -> None:
        if shown.stored is not None:
            self._live_stored[shown.index] = shown.stored  # drawn instead of the live result: it has decisions
            while len(self._live_stored) > LIVE_STORED_KEPT:
                del self._live_stored[next(iter(self._live_stored))]
        self.analyser.submit(shown.index, self.video.info.time_of(shown.index), shown.rgb)

    def _live_result(self, result, levels: Pyramid) -> None:
        analyser = self.analyser
        if analyser is None or result.generation != analyser.generation or self.video is None:
            return
        self.live_result.emit(result)
        index, path, model = result.frame_index, self.video.path, self.review.model
        stored = self._live_stored.pop(index, None)
        for older in [f for f in self._live_stored if f < index]:
            del self._live_stored[older]
        if stored is None and index in self.video.scores and index == self._position and not self.playing:
            self._request(index)  # stored meanwhile: read back with its decisions
        else:
            self._draw(index, result.image, levels, stored or ReviewRecord(path, model, None, result.detections,
                                                                             frame=index))
        if result.error:
            self.review.message.emit(f"Could not analyse frame {index + 1}: {result.error}")
            return
        self.review.inference.emit(model, result.detections.inference_seconds or result.latency_s)
        if index not in self.video.scores:  # never replace a reviewed result
            self.video.results.add(index, result.detections.scores)
            self.pool.submit(self.store.save_result, path, model, result.detections, index, self._stamp,
                             on_done=lambda rid: self._stored(path, model, index, result.detections, rid))

    def _stored(self, path: str, model: str, index: int, detections, result_id: int) -> None:
        """A result saved for frame `index`: marked on the timeline, and reviewable (it has an
        id now) when it is the one on the canvas."""
        self.marks_changed.emit()
        shown = self.review.review
        if self._left or self.review.current_path is not None:
            return  # a listed image has the canvas
        if (path == self.path and index == self.current and (shown is None or shown.result_id is None)
                and (shown is None or shown.detections is detections)):
            self.review.show_other(ReviewRecord(path, model, result_id, detections, frame=index))

    # the shown frame, like an image ------------------------------------------------------

    def _analyse_shown(self, index: int, rgb: np.ndarray) -> None:
        """The player stopped on a frame with no result: analyse it, as an opened image is
        (a newer frame replaces one still waiting for the device; live mode and analysis runs
        analyse frames themselves)."""
        if self.playing or self._analysis_job is not None or self.video is None:
            return
        problem = self.review.model_problem()
        if problem:
            self.review.message.emit(problem)
            return
        self.cancel_frame_job()
        path, model, stamp, store = self.video.path, self.review.model, self._stamp, self.store
        generation = self._generation.value

        def run(detector, cancel):
            began = time.perf_counter()
            detections = detector.predict([rgb])[0]
            seconds = detections.inference_seconds or time.perf_counter() - began
            return detections, seconds, store.save_result(path, model, detections, frame=index, stamp=stamp)

        self.review.message.emit(f"Analysing frame {index + 1:,} with {model}…")
        self._frame_job = self.jobs.run_long(model, self.review.device, run,
                                             lambda result: self._shown_analysed(generation, index, result))

    def cancel_frame_job(self) -> None:
        if self._frame_job is not None:
            self.jobs.cancel_long(self._frame_job)  # one still waiting ends here; a running one is let finish

    def _shown_analysed(self, generation: int, index: int, result) -> None:
        mine = result.job is self._frame_job
        if mine:
            self._frame_job = None
        if not self._generation.is_current(generation) or self.video is None:
            return
        on_canvas = self.review.current_path is None and not self._left  # no listed image took the canvas
        if result.value is None:
            problem = result.model_error or result.failure
            if problem and on_canvas:
                self.review.message.emit(f"Could not analyse frame {index + 1:,}: {problem}")
            elif mine and on_canvas:
                self.review.message.emit("")
            return
        detections, seconds, result_id = result.value
        self.review.inference.emit(self.review.model, seconds)
        if index not in self.video.scores:
            self.video.results.add(index, detections.scores)
            self.marks_changed.emit()
        if mine and on_canvas:
            self.review.message.emit("")
        if on_canvas and index == self.current and self.review.review is None:
            self.review.show_other(ReviewRecord(self.video.path, self.review.model, result_id, detections,
                                                frame=index))

    # analysis runs -----------------------------------------------------------------------

    @property
    def analysing(self) -> bool:
        return self._analysis_job is not None

    def analyse(self, start_s: Optional[float] = None, end_s: Optional[float] = None, stride: int = 1) -> bool:
        if self.video is None or self._analysis_job is not None:
            return False
        problem = self.review.model_problem()
        if problem:
            self.failed.emit(problem)
            return False
        self.stop_live()
        path, model, stamp, store, relay = self.video.path, self.review.model, self._stamp, self.store, self._relay

        def run(detector, cancel):
            analysis = VideoAnalysis(detector, path, start_s=start_s, end_s=end_s, stride=stride,
                                     progress=relay.progress.emit, cancel=cancel)
            for found in analysis:
                store.save_result(path, model, found.detections, frame=found.frame_index, stamp=stamp)
                relay.frame_done.emit(path, found.frame_index, found.detections.scores.copy(),
                                      found.detections.inference_seconds)
            return analysis

        self._analysis_job = self.jobs.run_long(model, self.review.device, run, self._analysis_ended)
        self.analysis_started.emit()
        self.analysis_progress.emit(Progress(0, 0, "waiting for the model"))
        return True

    def cancel_analysis(self) -> None:
        if self._analysis_job is not None:
            self.jobs.cancel_long(self._analysis_job)

    def _frame_stored(self, path: str, index: int, scores: np.ndarray, seconds: float) -> None:
        if seconds > 0:
            self.review.inference.emit(self.review.model, seconds)
        if self.video is not None and path == self.video.path:
            self.video.results.add(index, scores)
            self.marks_changed.emit()
            if index == self.current and not self.playing:
                self.refresh()

    def _analysis_ended(self, result) -> None:
        if result.job is not self._analysis_job:
            return
        self._analysis_job = None
        analysis = result.value
        if result.model_error or result.failure:
            note = f"Could not analyse: {result.model_error or result.failure}"
        elif analysis is None:
            note = "Video analysis cancelled before it started"
        else:
            note = (f"{'Cancelled: ' if analysis.cancelled else ''}{analysis.done:,} frames analysed "
                    f"({analysis.rate:.1f} frames/s)")
            if analysis.warnings:
                note += " — " + analysis.warnings[-1]
        self.analysis_finished.emit(result.cancelled or bool(analysis and analysis.cancelled), note)

    def shutdown(self) -> None:
        self.close()
