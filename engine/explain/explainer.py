"""One entry point over both kinds of model: `open_model(FILE|NAME)` gives an `Explainer` for a
trained classifier or a detector, and `Explainer` runs any method on it for one image."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from engine.explain import cam, features, occlusion
from engine.explain.types import CAM_METHODS, DETECTOR_METHODS, METHODS, FeatureMaps, Filters, Heatmap
from engine.types import CancelToken, Detections, ProgressCallback


class Explainer:
    """A loaded classifier (`engine.classify.Classifier`) or detector (`engine.detect.Detector`)."""

    def __init__(self, model):
        from engine.classify import Classifier

        self.model = model
        self.kind = "classifier" if isinstance(model, Classifier) else "detector"
        self.name = model.name

    @property
    def methods(self) -> tuple[str, ...]:
        return METHODS if self.kind == "classifier" else DETECTOR_METHODS

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.model.class_names)

    def stages(self) -> list[str]:
        if self.kind == "classifier":
            return features.classifier_stages(self.model)
        return features.detector_stages(self.model)

    def check_method(self, method: str) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method '{method}': choose one of {', '.join(METHODS)}")
        if method not in self.methods:
            raise ValueError(f"{method} explains a classifier; for a detector use {', '.join(self.methods)}")

    def detect(self, image: np.ndarray, min_score: float = 0.5) -> Detections:
        """The detector's detections on `image` at `min_score` or above, best first."""
        found = self.model.predict([image])[0]
        kept = found.filter(min_score)
        return kept.select(np.argsort(-kept.scores, kind="stable"))

    def heatmaps(
        self,
        image: np.ndarray,
        method: str,
        target: Union[None, int, str] = None,
        detections: Optional[Detections] = None,
        layer: str = cam.DEFAULT_LAYER,
        patch: Optional[int] = None,
        stride: Optional[int] = None,
        progress: Optional[ProgressCallback] = None,
        cancel: Optional[CancelToken] = None,
    ) -> list[Heatmap]:
        """Grad-CAM, Grad-CAM++ or occlusion maps: one for a classifier's `target` class
        (default: the predicted one), one per detection in `detections` for a detector."""
        self.check_method(method)
        if method in CAM_METHODS:
            return [cam.classifier_cam(self.model, image, method, target, layer, progress, cancel)]
        if method != "occlusion":
            raise ValueError(f"{method} gives no heatmap: use features() or filters()")
        if self.kind == "classifier":
            return [occlusion.classifier_occlusion(self.model, image, target, patch, stride, progress, cancel)]
        if detections is None:
            raise ValueError("detector occlusion needs the detections to explain")
        return occlusion.detector_occlusion(self.model, image, detections, patch, stride, progress, cancel)

    def features(self, image: np.ndarray, stages: Optional[Sequence[str]] = None,
                 top: int = features.DEFAULT_TOP) -> list[FeatureMaps]:  # fmt: skip
        if self.kind == "classifier":
            return features.classifier_features(self.model, image, stages, top)
        return features.detector_features(self.model, image, stages, top)

    def filters(self) -> Filters:
        network = self.model.model if self.kind == "classifier" else self.model.networks[0]
        return features.first_layer_filters(network)


def open_model(text: str, device: str = "auto") -> Explainer:
    """A detector by registry name, else a classifier file (or the name of one in the user
    models folder), else a detector weights file. WeightsError/DeviceError say what is wrong."""
    from engine import models
    from engine.classify import Classifier, find_classifier
    from engine.detect import Detector
    from engine.train.checkpoint import NotAClassifier

    if text in models.REGISTRY:
        return Explainer(Detector(text, device=device))
    path = find_classifier(text)
    try:
        return Explainer(Classifier(path, device=device))
    except NotAClassifier:
        return Explainer(Detector(path, device=device))
