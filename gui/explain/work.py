"""The explanation work itself (plain Python, run on the model thread) and the one adapter
that hands it to the window's background layer, `start(jobs, request, on_progress, on_done)`:
porting to another work layer means rewriting `start` alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine.classify import CROP_PADDING, crop_boxes
from engine.explain import Explainer
from engine.explain.maps import filter_grid
from engine.images import load_image
from engine.types import CancelToken, Detections, ProgressCallback
from gui.review.classifier_labels import loaded_classifier

OCCLUSION_GRID = 8  # a detector's occlusion: patches an eighth of the shorter side, side by side


@dataclass(frozen=True)
class ExplainRequest:
    path: str
    source: str  # "detector" or "classifier"
    model: str  # the detector's registry name or file; the classifier's file
    device: str
    method: str
    stage: str = ""  # features: the stage to show
    detection: Optional[Detections] = None  # detector occlusion: the one detection to explain
    box: Optional[tuple[float, float, float, float]] = None  # classifier: the detection it labelled
    target: Optional[str] = None  # classifier: the class to explain (None: the predicted one)
    key: tuple = ()  # what the result is cached under


@dataclass(frozen=True)
class ExplainResult:
    image: np.ndarray  # RGB: the image, or the detection's crop a classifier saw
    values: Optional[np.ndarray] = None  # (H, W) heatmap, or (K, H, W) feature maps, 0..1
    picture: Optional[np.ndarray] = None  # RGB shown as it is (first-layer filters)
    caption: str = ""
    box: Optional[np.ndarray] = None  # the explained detection, image pixels
    stages: tuple = ()  # features: one FeatureMaps per stage of the model


def compute(request: ExplainRequest, explainer: Explainer, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> ExplainResult:  # fmt: skip
    """The explanation `request` asks for, from the image file (read here, in the background)."""
    if request.method == "filters":
        filters = explainer.filters()
        return ExplainResult(np.zeros((1, 1, 3), np.uint8), picture=filter_grid(filters.weights),
                             caption=f"{len(filters.weights)} filters of {filters.layer}")  # fmt: skip
    image = load_image(request.path)
    if request.box is not None:
        image = crop_boxes(image, np.array([request.box]), CROP_PADDING)[0]
    if request.method == "features":  # every stage at once: switching stages redraws, never re-runs
        return ExplainResult(image, stages=tuple(explainer.features(image)))
    patch = max(8, min(image.shape[:2]) // OCCLUSION_GRID) if request.source == "detector" else None
    heatmap = explainer.heatmaps(image, request.method, request.target, detections=request.detection, patch=patch,
                                 stride=patch, progress=progress, cancel=cancel)[0]  # fmt: skip
    what = "occlusion: drop in the score" if request.method == "occlusion" else request.method
    return ExplainResult(image, heatmap.values, caption=f"{what} of {heatmap.target} ({heatmap.score:.2f})",
                         box=heatmap.box)  # fmt: skip


def classifier_explainer(path: str, device: str) -> Explainer:
    """(On the device thread.) The classifier comes from the thread's one cache, shared with
    the classifier labels: explaining the label just computed loads nothing again."""
    return Explainer(loaded_classifier(path, device))


class _Relay(QObject):
    """Carries progress from the model thread to the window's thread."""

    progress = Signal(object)

    def __init__(self, callback: Callable):
        super().__init__()
        self.callback = callback
        self.progress.connect(self._deliver)

    @Slot(object)
    def _deliver(self, progress) -> None:
        self.callback(progress)


def start(jobs, request: ExplainRequest, on_progress: Callable, on_done: Callable) -> Callable[[], None]:
    """Run `request` on the window's model thread (one model job on the device at a time).
    `on_progress(Progress)` and `on_done(result, error, cancelled)` are called on the window's
    thread; the returned function cancels."""
    relay = _Relay(on_progress)

    def finished(job_result) -> None:
        relay.deleteLater()
        error = job_result.failure or job_result.model_error
        on_done(job_result.value, error, job_result.cancelled)

    if request.source == "detector":
        job = jobs.run_long(request.model, request.device,
                            lambda detector, cancel: compute(request, Explainer(detector), relay.progress.emit, cancel),
                            finished)  # fmt: skip
    else:
        job = jobs.run_short(lambda cancel: compute(request, classifier_explainer(request.model, request.device),
                                                    relay.progress.emit, cancel), finished)  # fmt: skip
    return lambda: jobs.cancel_long(job)
