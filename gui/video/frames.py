"""Video work for the task pool (no widgets): opening a video with what the store holds for it,
reading one frame for display with its stored result, and collecting reviewed results for
export. Each function runs on a pool thread; one `VideoReader` is used by one call at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.review.frames import VideoResults
from engine.store import ReviewStore, ReviewRecord
from engine.video import VideoInfo, VideoReader
from gui.viewer.image_item import Pyramid


@dataclass
class OpenedVideo:
    path: str
    reader: VideoReader
    info: VideoInfo
    frame_count: int
    results: VideoResults  # the review core's per-frame results (analysed frame -> its scores)
    warnings: list[str] = field(default_factory=list)

    @property
    def scores(self) -> dict[int, np.ndarray]:
        return self.results.scores


@dataclass
class ShownFrame:
    index: int
    rgb: Optional[np.ndarray]  # None: past the real end of the file
    levels: Optional[Pyramid]
    stored: Optional[ReviewRecord]
    frame_count: int  # the reader's count after this read (lower once a short file's end is met)


def open_video(path: str, store: ReviewStore, model: str) -> OpenedVideo:
    """Opens the file (raises VideoError with a clear reason) and reads what was analysed before."""
    reader = VideoReader(path)
    try:
        results = VideoResults.from_store(store, path, model)
        count = reader.frame_count
        if count <= 0:  # the header has no count: find the end once
            count = reader.count_frames()
    except BaseException:
        reader.close()
        raise
    return OpenedVideo(path, reader, reader.info, count, results, list(reader.warnings))


def read_frame(reader: VideoReader, path: str, index: int, store: ReviewStore, model: str,
               analysed: bool) -> ShownFrame:
    """Frame `index` ready to draw, with its stored result when the frame was analysed."""
    rgb = reader.read(index)
    levels = Pyramid(rgb) if rgb is not None else None
    stored = store.load_result(path, model, index) if analysed and rgb is not None else None
    return ShownFrame(index, rgb, levels, stored, reader.frame_count)
