"""Still images through a `Detector` in real batches, decoded ahead on a background thread.

    for result in detect_files(detector, paths):     # batches of detector.batch_size
        result.path, result.image, result.detections, result.failure

A decode thread reads the files (EXIF-rotated RGB, as `load_image` does) at most two batches
ahead of the model, so while the model runs on one batch the next is already being decoded
and the model does not wait for the disk. On the CPU two batches are in the model at once,
each on half of torch's threads (`engine.model_streams`). Each model call gets
`detector.batch_size` readable images; an unreadable file never joins a batch: it comes back
with its reason, in its place in the order, and the run carries on. Results come back in the
order of `paths`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from engine.images import ImageLoadError, load_image
from engine.model_streams import cpu_streams, in_streams
from engine.types import CancelToken, Detections
from engine.video_io import Prefetcher

BATCHES_AHEAD = 2  # decoded batches waiting for the model, per stream, at most


@dataclass(frozen=True)
class ImageResult:
    """One file: its pixels and detections, or why there are none (`failure`)."""

    path: Path
    image: Optional[np.ndarray] = None  # None when the file could not be read
    detections: Optional[Detections] = None  # None when the file could not be read
    failure: Optional[str] = None  # unreadable file, or the model's failure for this image


def _decode(paths: Iterable[Path]) -> Iterator[ImageResult]:
    for path in paths:
        try:
            yield ImageResult(Path(path), image=load_image(path))
        except ImageLoadError as exc:
            yield ImageResult(Path(path), failure=exc.reason)


def _groups(decoded: Iterator[ImageResult], size: int, cancel: CancelToken) -> Iterator[list[ImageResult]]:
    """Decoded files in groups of `size` readable images (unreadable ones ride along in their
    place); the last group may hold fewer. Stops early once cancelled."""
    waiting: list[ImageResult] = []
    readable = 0
    for item in decoded:
        if cancel.cancelled:
            return
        waiting.append(item)
        readable += item.image is not None
        if readable == size:
            yield waiting
            waiting, readable = [], 0
    if waiting and not cancel.cancelled:
        yield waiting


def _predict(detector, waiting: list[ImageResult]) -> list[Detections]:
    readable = [item.image for item in waiting if item.image is not None]
    return detector.predict(readable) if readable else []


def _merge(waiting: list[ImageResult], found: list[Detections]) -> list[ImageResult]:
    """The group's results in its order: each readable image with its detections."""
    found_in_order = iter(found)
    done = []
    for item in waiting:
        if item.image is None:
            done.append(item)
            continue
        det = next(found_in_order)
        done.append(ImageResult(item.path, item.image, det, det.failure))
    return done


def detect_files(detector, paths: Iterable[Path], cancel: Optional[CancelToken] = None,
                 streams: Optional[int] = None) -> Iterator[ImageResult]:
    """One `ImageResult` per path, in order; batches of `detector.batch_size` readable images.
    `streams` None: on the CPU, two batches in the model at once, each on its share of
    torch's threads (`engine.model_streams`); on CUDA, one.

    Cancelling stops before the next batch; the results already yielded stand."""
    size = max(1, int(detector.batch_size))
    cancel = cancel or CancelToken()
    if streams is None:
        streams = 1 if detector.device.type == "cuda" else cpu_streams()
    ahead = size * BATCHES_AHEAD * streams
    with Prefetcher(_decode(paths), maxsize=ahead, name="sightline-decode-images") as decoded:
        groups = _groups(decoded, size, cancel)
        for waiting, found in in_streams(lambda group: _predict(detector, group), groups, streams,
                                         stop=lambda: cancel.cancelled):
            yield from _merge(waiting, found)
