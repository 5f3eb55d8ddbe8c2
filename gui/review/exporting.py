"""Export of reviewed results (COCO JSON, CSV, annotated images), read from the review store.
Runs in the background; no Qt. Every file is written atomically, and no export ever writes
over one of the images being exported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from engine.draw import draw_detections, encode_png
from engine.export import ExportItem, write_bytes_atomic, write_coco, write_csv
from engine.images import ImageLoadError, load_image
from engine.store import ACCEPTED, REJECTED, RELABELLED, ClassifierKey, ReviewStore, StoredResult
from engine.types import CancelToken, Detections, Progress
from gui.review.session import ImageReview, boxes_fingerprint

COCO, CSV, IMAGES = "coco", "csv", "images"
INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED = "all", "not_rejected", "accepted"


class ExportError(Exception):
    pass


@dataclass
class ExportRequest:
    kind: str  # COCO, CSV or IMAGES
    destination: Path  # a file (COCO, CSV) or a folder (IMAGES)
    paths: list[str]
    model: str
    min_score: float = 0.0
    hidden_classes: frozenset = frozenset()
    include: str = INCLUDE_NOT_REJECTED
    only_reviewed: bool = False
    # {result id: (boxes fingerprint, per-detection [(label, probability), ...])} from the chosen
    # classifier (ClassifierLabels.export_labels): adds classifier_label / classifier_score
    classifier_labels: dict = field(default_factory=dict)
    # the chosen classifier: labels it stored for images not in `classifier_labels` go out too
    classifier: Optional[ClassifierKey] = None


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
    if request.kind != IMAGES and any(_same_file(request.destination, p) for p in request.paths):
        raise ExportError(f"{request.destination} is one of the images; choose another file name")


def keep_indices(review: ImageReview, request: ExportRequest) -> list[int]:
    keep = []
    for i in review.above(request.min_score).tolist():
        state = review.state(i)
        if review.name(i) in request.hidden_classes:
            continue
        if request.include == INCLUDE_ACCEPTED and state not in (ACCEPTED, RELABELLED):
            continue
        if request.include == INCLUDE_NOT_REJECTED and state == REJECTED:
            continue
        keep.append(i)
    return keep


def classifier_predictions(stored: StoredResult, request: ExportRequest,
                           store: Optional[ReviewStore] = None) -> Optional[list]:
    """The classifier's labels of this stored result, when they were made from these very boxes:
    those labelled this session, else those the review store kept."""
    fingerprint = boxes_fingerprint(stored.detections)
    found = request.classifier_labels.get(stored.result_id)
    if found is not None:
        made_from, predictions = found
    elif store is not None and request.classifier is not None:
        made_from, predictions = fingerprint, store.classifier_labels(stored.result_id, request.classifier, fingerprint)
    else:
        return None
    if predictions is None or made_from != fingerprint or len(predictions) != len(stored.detections):
        return None
    return predictions


def reviewed_item(stored: StoredResult, request: ExportRequest, store: Optional[ReviewStore] = None) -> ExportItem:
    """The stored result as exported: filtered, relabels applied, review state per annotation."""
    review = ImageReview.from_stored(stored)
    keep = keep_indices(review, request)
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
    return ExportItem(stored.path, det, {"reviewed": stored.reviewed}, extras)


def collect(request: ExportRequest, store: ReviewStore, report: ExportReport, cancel: Optional[CancelToken],
            progress: Optional[Callable[[Progress], None]]):
    """(items, a Detections that carries the model's vocabulary) for the request's images."""
    items, vocabulary = [], None
    for n, path in enumerate(request.paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        stored = store.load_result(path, request.model)
        if stored is None:
            report.not_analysed += 1
        elif stored.detections.failure:
            report.failed += 1
        elif stored.reviewed or not request.only_reviewed:
            vocabulary = vocabulary or stored.detections
            items.append(reviewed_item(stored, request, store))
        if progress is not None and n % 50 == 0:
            progress(Progress(n, len(request.paths), "reading results"))
    return items, vocabulary


def export_results(request: ExportRequest, store: ReviewStore, cancel: Optional[CancelToken] = None,
                   progress: Optional[Callable[[Progress], None]] = None) -> ExportReport:
    check_destination(request)
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
    else:
        raise ExportError(f"unknown export kind '{request.kind}'")
    return report


def annotated_name(path: str, folder: Path, used: set[str], inputs: set[str]) -> Path:
    """`<stem>.annotated.png`, numbered when taken by another export or by an input image."""
    stem = Path(path).stem
    candidate, n = folder / f"{stem}.annotated.png", 1
    while candidate.name in used or os.path.normcase(os.path.realpath(candidate)) in inputs:
        n += 1
        candidate = folder / f"{stem}.annotated-{n}.png"
    used.add(candidate.name)
    return candidate


def write_annotated(items: list[ExportItem], request: ExportRequest, report: ExportReport,
                    cancel: Optional[CancelToken], progress) -> None:
    folder = Path(request.destination)
    inputs = {os.path.normcase(os.path.realpath(p)) for p in request.paths}
    used: set[str] = set()
    for n, item in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            image = load_image(item.file_name)
        except ImageLoadError:
            report.failed += 1
            continue
        names = [item.detections.class_names[label] for label in item.detections.labels]
        png = encode_png(draw_detections(image, item.detections, names=names))
        report.written.append(write_bytes_atomic(annotated_name(item.file_name, folder, used, inputs), png))
        if progress is not None:
            progress(Progress(n + 1, len(items), "writing images"))
