"""Segmenter training data from the review store: the masks a reviewer accepted or relabelled.

`reviewed_instances` is the one place that reads the store (its public API only:
`load_result` for still images and video frames, `frames` for a video's analysed frames),
so the review-store rewrite of issue 8 touches only that function.

For every image and video under FOLDER and every model that has results there: a result
with at least one accepted or relabelled detection becomes a sample. Accepted masks are
painted with their class, relabelled ones with the new class; rejected detections are
background; detections still undecided at a score of 0.5 or more are IGNORE (the reviewer
did not say), weaker ones background. Class names are those of the accepted detections,
sorted, after "background".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from engine import store as review_store
from engine.images import ImageLoadError, load_image, scan_paths
from engine.models import REGISTRY
from engine.segment.data import BACKGROUND, IGNORE, MAX_CLASSES, DataError, Sample, SegmentationData, paint, shrink
from engine.types import CancelToken, ImageFailure, Progress, ProgressCallback
from engine.video_io import VideoError, VideoReader

UNDECIDED_SCORE = 0.5


@dataclass(frozen=True)
class ReviewedInstances:
    source: str  # path, or "video#frame"
    frame: Optional[int]
    height: int
    width: int
    accepted: list  # [(bool mask (H, W), class name)]
    undecided: list  # [bool mask (H, W)]


def reviewed_instances(store, path: str, model: str, frame: Optional[int] = None) -> Optional[ReviewedInstances]:
    """The accepted masks of one stored result, or None when it has none (or no result)."""
    stored = store.load_result(path, model, frame)
    if stored is None or stored.detections.masks is None:
        return None
    det, accepted, undecided = stored.detections, [], []
    height, width = det.image_size
    for index, mask in enumerate(det.masks):
        decision = stored.decisions.get(index)
        if decision is None:
            if det.scores[index] >= UNDECIDED_SCORE:
                undecided.append(mask.to_full(height, width))
        elif decision.state in (review_store.ACCEPTED, review_store.RELABELLED):
            label = decision.label if decision.state == review_store.RELABELLED else int(det.labels[index])
            accepted.append((mask.to_full(height, width), det.class_names[label]))
    if not accepted:
        return None
    source = path if frame is None else f"{path}#{frame}"
    return ReviewedInstances(source, frame, height, width, accepted, undecided)


def _collect(store, scan, models: Iterable[str]) -> list[ReviewedInstances]:
    found = []
    for path in scan.images:
        found += [r for m in models if (r := reviewed_instances(store, str(path), m)) is not None]
    for path in scan.videos:
        for model in models:
            found += [r for f in store.frames(str(path), model)
                      if (r := reviewed_instances(store, str(path), model, f)) is not None]
    return found


def _image_of(item: ReviewedInstances, readers: dict) -> np.ndarray:
    path = item.source.split("#")[0] if item.frame is not None else item.source
    if item.frame is None:
        return load_image(path)
    if path not in readers:
        readers[path] = VideoReader(path)
    frame = readers[path].read(item.frame)
    if frame is None:
        raise ImageLoadError(path, f"frame {item.frame} cannot be read")
    return frame


def load_review(folder: str | os.PathLike, image_size: int = 320, store=None, models: Optional[list[str]] = None,
                progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> SegmentationData:
    """SegmentationData of the reviewed images and frames under `folder` (DataError if none)."""
    folder = Path(folder)
    store = store or review_store.ReviewStore()
    items = _collect(store, scan_paths([folder]), models or list(REGISTRY))
    if not items:
        raise DataError(f"{folder}: no image or video frame here has accepted masks in the review store "
                        f"({store.path}); review some first, or give a COCO file with --annotations")
    names = sorted({name for item in items for _, name in item.accepted})
    if len(names) > MAX_CLASSES:
        raise DataError(f"{folder}: {len(names)} classes; at most {MAX_CLASSES} fit a class map")
    index_of = {name: i + 1 for i, name in enumerate(names)}
    data, readers = SegmentationData((BACKGROUND, *names)), {}
    try:
        for done, item in enumerate(items, start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                image = _image_of(item, readers)
            except (ImageLoadError, VideoError) as exc:
                data.failures.append(ImageFailure(item.source, getattr(exc, "reason", str(exc))))
                continue
            target = paint((item.height, item.width), [(m, index_of[n]) for m, n in item.accepted])
            for mask in item.undecided:
                target[mask & (target == 0)] = IGNORE
            if image.shape[:2] != target.shape:
                data.failures.append(ImageFailure(item.source, "its size changed since it was reviewed"))
                continue
            data.samples.append(Sample(item.source, *shrink(image, target, image_size)))
            if progress is not None:
                progress(Progress(done, len(items), "reading reviewed masks"))
    finally:
        for reader in readers.values():
            reader.close()
    return data
