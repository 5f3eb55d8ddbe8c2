"""Classify all: a trained classifier labels the detections of every listed image, and the
labels are kept in the review store (per result, classifier and boxes, as the window keeps the
shown image's). Images the store already holds labels for, for these very boxes, are not run
again; images not analysed, failed or without detections are skipped; an image that cannot be
labelled (changed or unreadable since it was analysed) is named in `failed` and the batch
carries on.

    report = classify_all(store, paths, "demo-shapes", key, label, progress=cb, cancel=token)

`label(image_path, image_size, boxes) -> predictions` runs the classifier on one image's boxes
(the window passes its own, on the model thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from engine.images import ImageLoadError
from engine.review.record import boxes_fingerprint
from engine.store import ClassifierKey, ReviewStore, StoreError
from engine.types import CancelToken, Progress

Labeller = Callable  # (image_path, image_size, boxes) -> list[Prediction]


@dataclass
class ClassifyReport:
    labelled: int = 0  # images the classifier ran on now
    already: int = 0  # images whose labels the store held already
    skipped: int = 0  # not analysed, failed, or nothing detected
    detections: int = 0  # detections labelled now
    failed: list[str] = field(default_factory=list)  # "path: why"
    cancelled: bool = False

    def line(self) -> str:
        text = (f"{'Cancelled: ' if self.cancelled else ''}{self.labelled:,} images classified "
                f"({self.detections:,} detections), {self.already:,} had labels already, {self.skipped:,} skipped")
        if self.failed:
            text += f", {len(self.failed):,} failed ({self.failed[0]}{', …' if len(self.failed) > 1 else ''})"
        return text


def classify_one(store: ReviewStore, path: str, model: str, key: ClassifierKey, label: Labeller,
                 report: ClassifyReport) -> None:
    stored = store.load_result(path, model)
    if stored is None or stored.failure or stored.damaged or not len(stored.detections):
        report.skipped += 1
        return
    fingerprint = boxes_fingerprint(stored.detections)
    if store.classifier_labels(stored.result_id, key, fingerprint) is not None:
        report.already += 1
        return
    try:
        predictions = label(path, stored.detections.image_size, stored.detections.boxes.copy())
        store.save_classifier_labels(stored.result_id, key, fingerprint, predictions).wait()
    except (ImageLoadError, OSError, ValueError, StoreError) as exc:
        report.failed.append(f"{path}: {exc}")
        return
    report.labelled += 1
    report.detections += len(predictions)


def classify_all(store: ReviewStore, paths: list[str], model: str, key: ClassifierKey, label: Labeller,
                 progress: Optional[Callable[[Progress], None]] = None,
                 cancel: Optional[CancelToken] = None) -> ClassifyReport:
    report = ClassifyReport()
    for n, path in enumerate(paths):
        if cancel is not None and cancel.cancelled:
            report.cancelled = True
            break
        classify_one(store, path, model, key, label, report)
        if progress is not None:
            progress(Progress(n + 1, len(paths), f"classifying {n + 1:,}/{len(paths):,}"))
    return report
