"""Export of reviewed results (COCO JSON, CSV, annotated images), read from the review store.
The window and `sightline export` both call `export_results`. Every file is written
atomically, and no export ever writes over one of the images being exported.

Each exported annotation carries its review state (`review_state`), the model's own class
where a reviewer relabelled it (`original_category_id`), and the chosen classifier's label
(`classifier_label`, `classifier_score`) where one was made from these very boxes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from engine.draw import draw_detections, encode_png
from engine.export import ExportItem, write_bytes_atomic, write_coco, write_csv
from engine.images import ImageLoadError, load_image
from engine.review.record import RELABELLED, ReviewRecord, boxes_fingerprint
from engine.review.view import INCLUDE_ACCEPTED, INCLUDE_ALL, INCLUDE_NOT_REJECTED, ExportSelection
from engine.store import ClassifierKey, ReviewStore
from engine.types import CancelToken, Detections, Progress

COCO, CSV, IMAGES, CROPS = "coco", "csv", "images", "crops"  # CROPS: see engine/review/crops.py
KINDS = (COCO, CSV, IMAGES, CROPS)
FOLDER_KINDS = (IMAGES, CROPS)
__all__ = ["COCO", "CROPS", "CSV", "FOLDER_KINDS", "IMAGES", "INCLUDE_ACCEPTED", "INCLUDE_ALL", "INCLUDE_NOT_REJECTED", "ExportError",
           "ExportReport", "ExportRequest", "export_results"]


class ExportError(Exception):
    pass


@dataclass
class ExportRequest:
    kind: str  # COCO, CSV, IMAGES or CROPS
    destination: Path  # a file (COCO, CSV) or a folder (IMAGES, CROPS)
    paths: list[str]
    model: str  # "" with `frames`: each entry's own model
    min_score: float = 0.0
    hidden_classes: frozenset = frozenset()
    include: str = INCLUDE_NOT_REJECTED
    only_reviewed: bool = False
    # {result id: (boxes fingerprint, per-detection [(label, probability), ...])} from the chosen
    # classifier (ClassifierLabels.export_labels): adds classifier_label / classifier_score
    classifier_labels: dict = field(default_factory=dict)
    # the chosen classifier: labels it stored for images not in `classifier_labels` go out too
    classifier: Optional[ClassifierKey] = None
    # (path, model, frame) of each result to export instead of `paths` with `model`'s still
    # images: how `sightline export` takes video frames and several models from the store
    entries: Optional[list] = None
    margin: float = 0.1  # CROPS: context around each box, a share of its size on every side
    cut_out: bool = False  # CROPS: black outside the detection's mask

    @property
    def selection(self) -> ExportSelection:
        return ExportSelection(self.min_score, self.hidden_classes, self.include, self.only_reviewed)


@dataclass
class ExportReport:
    destination: Path
    images: int = 0
    detections: int = 0
    not_analysed: int = 0
    failed: int = 0
    written: list[Path] = field(default_factory=list)


def _same_file(a: str | Path, b: str | Path) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_destination(request: ExportRequest) -> None:
    """Refuse a destination that is one of the images being exported."""
    if request.kind not in KINDS:
        raise ExportError(f"unknown export kind '{request.kind}' (one of {', '.join(KINDS)})")
    if request.kind not in FOLDER_KINDS and any(_same_file(request.destination, p) for p, _, _ in _wanted(request)):
        raise ExportError(f"{request.destination} is one of the images; choose another file name")


def classifier_predictions(stored: ReviewRecord, request: ExportRequest,
                           store: Optional[ReviewStore] = None) -> Optional[list]:
    """The classifier's labels of this stored result, when they were made from these very boxes:
    those labelled this session, else those the review store kept."""
    fingerprint = boxes_fingerprint(stored.detections)
    found = request.classifier_labels.get(stored.result_id)
    if found is not None:
        made_from, predictions = found
    elif store is not None:
        made_from, predictions = fingerprint, stored_labels(store, stored, request.classifier, fingerprint)
    else:
        return None
    if predictions is None or made_from != fingerprint or len(predictions) != len(stored.detections):
        return None
    return predictions


def stored_labels(store: ReviewStore, stored: ReviewRecord, classifier: Optional[ClassifierKey],
                  fingerprint: int) -> Optional[list]:
    """Labels the store kept for this result: from `classifier`, else (no classifier chosen,
    as from the command line) from the newest classifier that labelled it."""
    candidates = [classifier] if classifier is not None else store.classifiers_of(stored.result_id)
    for key in candidates:
        found = store.classifier_labels(stored.result_id, key, fingerprint)
        if found is not None:
            return found
    return None


def reviewed_item(stored: ReviewRecord, request: ExportRequest, store: Optional[ReviewStore] = None) -> ExportItem:
    """The stored result as exported: filtered, relabels applied, review state per annotation."""
    review = stored
    keep = request.selection.indices(review)
    det = stored.detections.select(np.array(keep, np.int64))
    det = replace(det, labels=np.array([review.label(i) for i in keep], np.int64))
    predictions = classifier_predictions(stored, request, store)
    extras = []
    for i in keep:
        extra = {"review_state": review.state(i), "detection_index": i}
        if review.state(i) == RELABELLED:
            extra["original_category_id"] = int(stored.detections.labels[i])
        if predictions is not None and predictions[i]:
            label, probability = predictions[i][0]
            extra["classifier_label"], extra["classifier_score"] = label, round(float(probability), 5)
        extras.append(extra)
    image_extras = {"reviewed": stored.reviewed}
    if stored.frame is not None:
        image_extras["frame_index"] = int(stored.frame)
    return ExportItem(stored.path, det, image_extras, extras)


def _wanted(request: ExportRequest) -> list[tuple[str, str, Optional[int]]]:
    if request.entries is not None:
        return [(e.path, e.model, e.frame) for e in request.entries]
    return [(p, request.model, None) for p in request.paths]


def collect(request: ExportRequest, store: ReviewStore, report: ExportReport, cancel: Optional[CancelToken],
            progress: Optional[Callable[[Progress], None]]):
    """(items, a Detections that carries the model's vocabulary) for the request's images."""
    items, vocabulary = [], None
    wanted = _wanted(request)
    selection = request.selection
    for n, (path, model, frame) in enumerate(wanted):
        if cancel is not None:
            cancel.raise_if_cancelled()
        stored = store.load_result(path, model, frame)
        if stored is None:
            report.not_analysed += 1
        elif stored.failure or stored.damaged:
            report.failed += 1
        elif selection.takes(stored):  # categories: the longest class list (relabels to new classes extend it)
            if vocabulary is None or len(stored.detections.class_names) > len(vocabulary.class_names):
                vocabulary = stored.detections
            items.append(reviewed_item(stored, request, store))
        if progress is not None and n % 50 == 0:
            progress(Progress(n, len(wanted), "reading results"))
    return items, vocabulary


def export_results(request: ExportRequest, store: ReviewStore, cancel: Optional[CancelToken] = None,
                   progress: Optional[Callable[[Progress], None]] = None) -> ExportReport:
    check_destination(request)
    if request.kind == CROPS:  # classifier data: what the reviewer accepted, with the final labels
        request = replace(request, include=INCLUDE_ACCEPTED)
    report = ExportReport(Path(request.destination))
    items, vocabulary = collect(request, store, report, cancel, progress)
    report.images = len(items)
    report.detections = sum(len(item.detections) for item in items)
    if request.kind == COCO:
        reference = Detections.empty((1, 1), vocabulary.class_names, keypoint_names=vocabulary.keypoint_names,
                                     skeleton=vocabulary.skeleton) if vocabulary is not None else None
        report.written.append(write_coco(request.destination, items, request.model, categories_from=reference))
    elif request.kind == CSV:
        report.written.append(write_csv(request.destination, items))
    elif request.kind == IMAGES:
        write_annotated(items, request, report, cancel, progress)
    elif request.kind == CROPS:
        from engine.review.crops import write_crops

        inputs = {os.path.normcase(os.path.realpath(p)) for p, _, _ in _wanted(request)}
        write_crops(items, request.destination, request.margin, request.cut_out, report, _picture, inputs,
                    cancel, progress)
        report.detections = len(report.written)
    else:
        raise ExportError(f"unknown export kind '{request.kind}'")
    return report


def annotated_name(path: str, folder: Path, used: set[str], inputs: set[str], frame: Optional[int] = None) -> Path:
    """`<stem>.annotated.png` (`<stem>-frame<N>.annotated.png` for a video frame), numbered
    when taken by another export or by an input image."""
    stem = Path(path).stem if frame is None else f"{Path(path).stem}-frame{frame}"
    candidate, n = folder / f"{stem}.annotated.png", 1
    while candidate.name in used or os.path.normcase(os.path.realpath(candidate)) in inputs:
        n += 1
        candidate = folder / f"{stem}.annotated-{n}.png"
    used.add(candidate.name)
    return candidate


def write_annotated(items: list[ExportItem], request: ExportRequest, report: ExportReport,
                    cancel: Optional[CancelToken], progress) -> None:
    folder = Path(request.destination)
    inputs = {os.path.normcase(os.path.realpath(p)) for p, _, _ in _wanted(request)}
    used: set[str] = set()
    for n, item in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        frame = item.image_extras.get("frame_index")
        image = _picture(item.file_name, frame)
        if image is None:
            report.failed += 1
            continue
        names = [item.detections.class_names[label] for label in item.detections.labels]
        png = encode_png(draw_detections(image, item.detections, names=names))
        target = annotated_name(item.file_name, folder, used, inputs, frame)
        report.written.append(write_bytes_atomic(target, png))
        if progress is not None:
            progress(Progress(n + 1, len(items), "writing images"))


def _picture(path: str, frame: Optional[int]) -> Optional[np.ndarray]:
    """The image, or the video's frame, as RGB; None when it cannot be read any more."""
    if frame is None:
        try:
            return load_image(path)
        except ImageLoadError:
            return None
    from engine.video_io import VideoError, VideoReader

    try:
        reader = VideoReader(path)
    except VideoError:
        return None
    try:
        return reader.read(int(frame))
    finally:
        reader.close()
