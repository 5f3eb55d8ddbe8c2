"""Detection training data from the review store: the accepted and relabelled detections of the
images of a folder that were marked reviewed.

This is the only place detector training reads the review store, through the store's public
API and the review core (`engine.review`): what goes in is exactly what `sightline export
--accepted-only` exports. The class of an accepted detection is the model's; of a relabelled
one, the relabel's. Rejected and undecided detections are not objects to learn.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.images import scan_paths
from engine.review import INCLUDE_ACCEPTED, ExportSelection, ReviewRecord
from engine.store import ReviewStore
from engine.train.dataset import DatasetError
from engine.train.detection_data import DetectionData, DetectionSample, Instance

KEYPOINT_SCORE = 0.0  # a stored keypoint with a score above this counts as labelled (visible)


def _candidate_models() -> list[str]:
    from engine.models import list_specs

    return [spec.name for spec in list_specs()]


ACCEPTED_ONLY = ExportSelection(include=INCLUDE_ACCEPTED)


def _instances(stored: ReviewRecord) -> list[Instance]:
    det = stored.detections
    found = []
    for index in ACCEPTED_ONLY.indices(stored):
        label = stored.label(index)
        if not 0 <= label < len(det.class_names):
            continue
        points = None
        if det.keypoints is not None:
            points = det.keypoints[index].copy()
            points[:, 2] = (points[:, 2] > KEYPOINT_SCORE) * 2.0
            points[points[:, 2] == 0] = 0.0
        mask = det.masks[index] if det.masks is not None else None
        found.append(Instance(det.boxes[index].copy(), det.class_names[label], mask, points))
    return found


def read_reviewed(folder: str | os.PathLike, store: ReviewStore | None = None,
                  model: str | None = None) -> DetectionData:
    """The reviewed images under `folder` (recursive) with their accepted and relabelled
    detections. `model`: the model whose results to read (default: the model with the most
    reviewed images there, among those `sightline models` lists)."""
    folder = Path(folder)
    images = scan_paths([folder]).images
    if not images:
        raise DatasetError(f"{folder}: no images found")
    store = store or ReviewStore()
    candidates = [model] if model else _candidate_models()
    found = {name: store.summaries(images, name) for name in candidates}
    reviewed = {name: [p for p, s in summaries.items() if s.reviewed] for name, summaries in found.items()}
    chosen = max(candidates, key=lambda name: len(reviewed[name]))
    if not reviewed[chosen]:
        decided = sum(1 for s in found[chosen].values() if s.decided)
        hint = f" ({decided} images have decisions but are not marked reviewed: press Return on each)" if decided else ""
        raise DatasetError(f"{folder}: no reviewed images in the review store {store.path}{hint}")
    data = DetectionData([], f"{len(reviewed[chosen])} reviewed images under {folder} (review store, {chosen})",
                         base_model=chosen)
    unreviewed = sum(1 for s in found[chosen].values() if s.decided and not s.reviewed)
    if unreviewed:
        data.problems.append(f"{unreviewed} images with decisions that are not marked reviewed (press Return to use them)")
    for path in sorted(reviewed[chosen]):
        stored = store.load_result(path, chosen)
        if stored is None:  # changed since the summaries were read
            data.problems.append(f"{path}: changed since it was reviewed")
            continue
        det = stored.detections
        if det.keypoints is not None and not data.keypoint_names:
            data.keypoint_names, data.skeleton = tuple(det.keypoint_names), tuple(det.skeleton)
        data.samples.append(DetectionSample(Path(path), tuple(det.image_size), tuple(_instances(stored))))
    return data
