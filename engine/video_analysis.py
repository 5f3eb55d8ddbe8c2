"""Analysing a video: every Nth frame of a time range through a `Detector`, results yielded per
frame as they finish.

Frames are decoded ahead on their own thread into a bounded queue while the model runs, so
memory stays flat however long the video is; nothing here keeps results (the caller stores or
drops each `FrameResult`). On CUDA frames go through the model in batches, with the batch size
measured on the video's first frames unless given; on the CPU two calls of one frame side by
side, each on half of torch's threads. Cancelling stops between batches: every frame
already yielded stays valid, and the run ends normally with `cancelled` set.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import weakref
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from engine.types import CancelToken, Detections, Progress, ProgressCallback
from engine.video_io import Prefetcher, VideoError, VideoInfo, VideoReader, trim_heap

BATCH_CANDIDATES = (1, 2, 4, 8)
CPU_BATCH = 1  # frames per call off CUDA, two calls at once: faster per frame than 2 (README, video_speed.py)
CPU_BATCH_ONE_STREAM = 2  # the same with one call at a time (one torch thread): faster than 1
QUEUE_BYTES = 256 * 2**20  # decoded frames waiting for the model, at most about this much


@dataclass(frozen=True)
class FrameResult:
    """The detections of one analysed frame (unfiltered, down to the detector's score floor)."""

    frame_index: int
    time_s: float
    detections: Detections


@dataclass(frozen=True)
class FrameSpan:
    """Frames start, start + stride, ... before stop (None: to the end of the file)."""

    start: int
    stop: Optional[int]
    stride: int = 1

    @property
    def count(self) -> int:
        """How many frames are analysed (0 when the end is unknown)."""
        if self.stop is None:
            return 0
        return max(0, math.ceil((self.stop - self.start) / self.stride))


def frame_span(info: VideoInfo, start_s: Optional[float] = None, end_s: Optional[float] = None,
               stride: int = 1, frame_count: Optional[int] = None) -> FrameSpan:
    """The frames shown in [start_s, end_s) seconds, every `stride`th; raises VideoError or
    ValueError for a range that holds no frame."""
    if stride < 1:
        raise ValueError(f"stride must be 1 or more, got {stride}")
    if start_s is not None and start_s < 0:
        raise ValueError(f"start must be 0 s or later, got {start_s} s")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ValueError(f"end ({end_s} s) must be after start ({start_s} s)")
    count = info.frame_count if frame_count is None else frame_count
    start = info.frame_at(start_s) if start_s else 0
    stop = info.frame_at(end_s) if end_s is not None else None
    if count:
        stop = count if stop is None else min(stop, count)
        if start >= count:
            raise VideoError(info.path, f"start {start_s:g} s is past the end of the video ({count / info.fps:.2f} s)")
    if stop is not None and stop <= start:
        raise VideoError(info.path, f"the range {start_s or 0:g} s to {end_s:g} s holds no frame")
    return FrameSpan(start, stop, stride)


@contextlib.contextmanager
def batch_size_of(detector, size: int):
    """`detector.predict` splits its input into batches of `size` for the duration."""
    previous = detector.batch_size
    detector.batch_size = size
    try:
        yield
    finally:
        detector.batch_size = previous


def _synchronise(detector) -> None:
    if detector.device.type == "cuda":
        import torch

        torch.cuda.synchronize(detector.device)


_TUNED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # detector -> {(h, w): batch}


def choose_batch_size(detector, frames: Sequence[np.ndarray], candidates: Sequence[int] = BATCH_CANDIDATES,
                      repeats: int = 2, streams: int = 1) -> int:
    """The batch size with the least time per frame on these frames: off CUDA, CPU_BATCH, or
    CPU_BATCH_ONE_STREAM for one stream; on CUDA each candidate is timed (after a warm-up)
    until a larger batch stops paying. Remembered per detector and frame size."""
    if detector.device.type != "cuda":
        return CPU_BATCH_ONE_STREAM if streams == 1 else CPU_BATCH
    if not frames:
        return 1
    key = tuple(frames[0].shape[:2])
    known = _TUNED.get(detector, {})
    if key in known:
        return known[key]
    with batch_size_of(detector, 1):
        detector.predict(list(frames[:1]))  # warm-up: kernels, allocator
    best, best_time = 1, math.inf
    for size in candidates:
        batch = [frames[i % len(frames)] for i in range(size)]
        times = []
        with batch_size_of(detector, size):
            for _ in range(repeats):
                _synchronise(detector)
                began = time.perf_counter()
                detector.predict(batch)
                _synchronise(detector)
                times.append((time.perf_counter() - began) / size)
        per_frame = min(times)
        if per_frame < best_time * 0.95:
            best, best_time = size, per_frame
        elif per_frame > best_time * 1.05:
            break
    _TUNED.setdefault(detector, {})[key] = best
    return best


class VideoAnalysis:
    """One run of a detector over a video's frames; iterate it for `FrameResult`s in order.

        analysis = VideoAnalysis(detector, "clip.mp4", stride=5, start_s=2, end_s=10,
                                 progress=on_progress, cancel=token)
        for result in analysis:      # each frame as soon as it is finished
            store.add(result)
        analysis.cancelled, analysis.done, analysis.warnings, analysis.rate

    Opening the file happens here, so a bad file raises `VideoError` before any work starts.
    `batch_size` None: off CUDA CPU_BATCH (CPU_BATCH_ONE_STREAM with one stream), measured
    on CUDA (see `choose_batch_size`); it is the detector's batch size for the run.
    `streams` None: off CUDA, two batches in the model at once, each on its share of
    torch's threads (`engine.model_streams`); on CUDA, one.
    """

    def __init__(self, detector, path: str | os.PathLike, *, start_s: Optional[float] = None,
                 end_s: Optional[float] = None, stride: int = 1, batch_size: Optional[int] = None,
                 streams: Optional[int] = None, progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None):
        self.detector = detector
        self.reader = VideoReader(path)
        try:
            self.span = frame_span(self.reader.info, start_s, end_s, stride)
        except BaseException:
            self.reader.close()
            raise
        self.info = self.reader.info
        self.batch_size = batch_size
        self.streams = streams
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.done = 0
        self.last_frame: Optional[int] = None  # index of the last frame analysed
        self.cancelled = False
        self.finished = False
        self.elapsed = 0.0
        self._started = False

    @property
    def path(self) -> str:
        return self.info.path

    @property
    def total(self) -> int:
        """Frames this run expects to analyse (0: unknown); fewer if the file ends early."""
        return self.span.count

    @property
    def rate(self) -> float:
        """Frames analysed per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def warnings(self) -> list[str]:
        return list(self.reader.warnings)

    @property
    def analysed_stop(self) -> int:
        """One past the last frame whose result holds (for drawing held results): the frame after
        the last analysed one plus the stride gap, within the span."""
        if self.last_frame is None:
            return self.span.start
        stop = self.last_frame + self.span.stride
        if self.span.stop is not None:
            stop = min(stop, self.span.stop)
        return min(stop, self.reader.frame_count) if self.reader.frame_count else stop

    def _queue_frames(self, batch: int) -> int:
        frame_bytes = self.info.width * self.info.height * 3
        return int(max(2, min(2 * batch + 2, QUEUE_BYTES // max(1, frame_bytes))))

    def _report(self, message: str = "") -> None:
        if self.progress is not None:
            text = message or f"{self.rate:.1f} frames/s"
            self.progress(Progress(self.done, self.total, text, self.elapsed))

    def _batches(self, frames: Iterator[tuple[int, np.ndarray]], most: int) -> Iterator[list]:
        """Decoded frames grouped into model batches. Without a given batch size, one is chosen
        on the first `most` frames (see `choose_batch_size`) and set on the detector."""
        cuda = self.detector.device.type == "cuda"
        pending: list[tuple[int, np.ndarray]] = []
        for item in frames:
            pending.append(item)
            if self.batch_size is None:
                if cuda and len(pending) < most:
                    continue
                self._choose_batch_size(pending)
            while len(pending) >= self.batch_size:
                yield pending[: self.batch_size]
                del pending[: self.batch_size]
        if pending and self.batch_size is None:  # a video shorter than the tuning batch
            self._choose_batch_size(pending)
        while pending:
            yield pending[: self.batch_size]
            del pending[: self.batch_size]

    def _choose_batch_size(self, frames: list[tuple[int, np.ndarray]]) -> None:
        self.batch_size = choose_batch_size(self.detector, [rgb for _, rgb in frames], streams=self.streams)
        self.detector.batch_size = self.batch_size

    def _predict(self, batch: list[tuple[int, np.ndarray]]) -> list[Detections]:
        return self.detector.predict([rgb for _, rgb in batch])

    def _batch_results(self, batches: Iterator[list]) -> Iterator[tuple[list, list[Detections]]]:
        """(batch, its detections) in frame order; with several streams, that many batches are
        in the model at once (see `engine.model_streams`). Nothing new starts once cancelled."""
        from engine.model_streams import in_streams

        return in_streams(self._predict, batches, self.streams, stop=lambda: self.cancel.cancelled)

    def _yield_frames(self, batch: list[tuple[int, np.ndarray]], found: list[Detections],
                      began: float) -> Iterator[FrameResult]:
        trim_heap()
        self.elapsed = time.perf_counter() - began
        for (index, _), det in zip(batch, found):
            self.done += 1
            self.last_frame = index
            yield FrameResult(index, self.info.time_of(index), det)
            self._report()  # per frame, also when frames come in batches

    def __iter__(self) -> Iterator[FrameResult]:
        return self.run()

    def close(self) -> None:
        """Releases the file when the analysis is dropped without being run."""
        if not self._started:
            self._started = True
            self.reader.close()
            self.finished = True

    def __enter__(self) -> "VideoAnalysis":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self) -> Iterator[FrameResult]:
        if self._started:
            raise RuntimeError("a VideoAnalysis runs once; make a new one")
        self._started = True
        began = time.perf_counter()
        cuda = self.detector.device.type == "cuda"
        if self.streams is None:
            self.streams = 1 if cuda else _cpu_streams()
        most = self.batch_size or (max(BATCH_CANDIDATES) if cuda else CPU_BATCH_ONE_STREAM)
        frames = Prefetcher(self.reader.frames(self.span.start, self.span.stop, self.span.stride),
                            maxsize=self._queue_frames(most * (self.streams + 1)))
        previous_batch = self.detector.batch_size
        if self.batch_size is not None:
            self.detector.batch_size = self.batch_size
        try:
            self._report("starting")
            for batch, found in self._batch_results(self._batches(frames, most)):
                yield from self._yield_frames(batch, found, began)
            self.cancelled = self.cancel.cancelled
        except GeneratorExit:  # the consumer stopped iterating: as good as a cancel
            self.cancelled = True
            raise
        finally:
            self.detector.batch_size = previous_batch
            frames.close()
            self.reader.close()
            self.elapsed = time.perf_counter() - began
            self.finished = True
            trim_heap(force=True)  # a finished run hands its working memory back


def _cpu_streams() -> int:
    from engine.model_streams import cpu_streams

    return cpu_streams()


def analyse_video(detector, path: str | os.PathLike, **options) -> VideoAnalysis:
    """`VideoAnalysis(detector, path, **options)`: iterate it for per-frame results."""
    return VideoAnalysis(detector, path, **options)
