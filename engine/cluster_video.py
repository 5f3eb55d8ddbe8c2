"""Videos on a Ray cluster: split into frame-range segments that workers analyse in parallel.

The client opens each video (the header only, or counting its frames where the header has no
count) to find the analysed frames of `--start/--end/--stride`, exactly as a local run does,
and cuts them into segments of `SEGMENT_FRAMES` analysed frames. Segment j starts at
span.start + j * SEGMENT_FRAMES * stride, so every segment's frames fall on the local run's
stride grid: the union of the segments is exactly the frames a local run analyses. A worker
decodes its own segment (`VideoAnalysis` over that frame range: seek to its first frame, decode
in order) and sends back each frame's detections as soon as its model batch is done, then a
segment-end row. The client keeps each frame in the result shards (key `VIDEO#frame=N`) and,
once a segment ended without failure, a marker (`VIDEO#frames=START:STOP:STRIDE`), so a rerun
skips finished segments and repeats the others.

This module is imported on the client (planning, keys) and on the workers (`analyse_segment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

SEGMENT_FRAMES = 64  # analysed frames per segment: the unit of parallel work and of resuming


@dataclass(frozen=True)
class Segment:
    """Frames start, start + stride, ... before stop of one video (its path as listed)."""

    video: str
    start: int
    stop: int
    stride: int

    @property
    def key(self) -> str:
        """The segment's marker in the result shards, kept once it finished without failure."""
        return f"{self.video}#frames={self.start}:{self.stop}:{self.stride}"

    @property
    def frames(self) -> range:
        return range(self.start, self.stop, self.stride)

    def describe(self) -> str:
        return f"{self.video} (frames {self.start}-{self.stop - 1})"


@dataclass(frozen=True)
class VideoPlan:
    """One video's analysed frames as a local run would pick them, cut into segments."""

    video: str
    fps: float
    start: int
    stop: int
    stride: int
    segments: tuple[Segment, ...]

    def frame_keys(self) -> Iterator[tuple[str, int, float]]:
        """(shard key, frame index, time in s as a local run writes it) of each analysed frame."""
        for index in range(self.start, self.stop, self.stride):
            yield frame_key(self.video, index), index, round(index / self.fps if self.fps else 0.0, 4)


@dataclass(frozen=True)
class SegmentEnd:
    """A worker finished a segment: every frame was sent before this; `failure` names what went
    wrong with the file (it cannot be opened here, it ends early), "" when nothing did;
    `failed_frames` counts frames the model failed on (each sent, and named, as a failed frame).
    Only a segment with neither is kept as done."""

    segment: Segment
    failure: str = ""
    worker: str = ""
    failed_frames: int = 0

    @property
    def complete(self) -> bool:
        return not self.failure and not self.failed_frames


def frame_key(video: str, index: int) -> str:
    return f"{video}#frame={index}"


def plan_video(path: Path, start_s: Optional[float], end_s: Optional[float], stride: int,
               length: Optional[int] = None) -> VideoPlan:
    """Open `path` here and cut its analysed frames into segments; raises VideoError or
    ValueError (the same messages as a local run) for a file or range that cannot be used."""
    from engine.video import VideoReader, frame_span

    with VideoReader(path) as reader:
        count = reader.info.frame_count or reader.count_frames()
        span = frame_span(reader.info, start_s, end_s, stride, frame_count=count)
        fps = reader.info.fps
    step = (length or SEGMENT_FRAMES) * stride
    segments = tuple(Segment(str(path), first, min(span.stop, first + step), stride)
                     for first in range(span.start, span.stop, step))
    return VideoPlan(str(path), fps, span.start, span.stop, stride, segments)


def analyse_segment(detector, path: str, start: int, stop: int, stride: int, score: float,
                    batch_size: Optional[int]) -> Iterator[dict]:
    """On a worker: one row per analysed frame of the segment as its batch finishes, then the
    segment-end row (frame -2): what went wrong with the file, if anything, and how many frames
    failed."""
    from engine.review.codec import encode_detections
    from engine.video import FrameSpan, VideoAnalysis, VideoError

    failed = 0
    try:
        analysis = VideoAnalysis(detector, path, stride=stride, batch_size=batch_size)
    except (VideoError, ValueError) as exc:
        yield {"frame": -2, "failure": getattr(exc, "reason", str(exc))}
        return
    analysis.span = FrameSpan(start, stop, stride)  # this segment's part of the local run's frames
    for result in analysis:
        det = result.detections
        if det.failure:
            failed += 1
            yield {"frame": result.frame_index, "time": result.time_s, "failure": det.failure}
            continue
        kept = det.filter(min_score=score)
        yield {"frame": result.frame_index, "time": result.time_s, "payload": encode_detections(kept),
               "height": kept.image_size[0], "width": kept.image_size[1], "seconds": kept.inference_seconds,
               "vocabulary": vocabulary_json(kept), "model": kept.model_name}
    failure = ""
    if analysis.reader.short:
        failure = analysis.warnings[-1].removeprefix(f"{path}: ") + "; the frames that could be read were used"
    yield {"frame": -2, "failure": failure, "failed": failed}


def vocabulary_json(det) -> str:
    import json

    return json.dumps({"classes": list(det.class_names), "keypoint_names": list(det.keypoint_names),
                       "skeleton": [list(p) for p in det.skeleton]})
