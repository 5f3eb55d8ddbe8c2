"""A segmenter that behaves like a detector, so every front end can run it as a model.

`SegmenterDetector.predict(images)` returns one `Detections` per image, like
`engine.detect.Detector`: each connected region of one class (at least MIN_AREA pixels) is a
detection with its mask, its box and, as score, the mean probability the network gave that
class over the region. Drawn with the detectors' overlays, the regions together are the
class map as a translucent overlay; the window's review, live video, range analysis and
exports work unchanged, and accepted regions train the next segmenter (`--from-review`).

`SegmenterSpec` lists a segmenter file beside the registry's detectors (engine.models), and
`open_model` opens either kind by the name a front end holds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from engine import models
from engine import weights as W
from engine.detect import Detector
from engine.segment.model_file import is_segmenter_file, load_segmenter_file
from engine.segment.predict import Segmenter
from engine.types import CroppedMask, Detections

MIN_AREA = 16  # pixels; smaller specks of a class are not reported as regions
SUFFIX = ".pt"


def regions(classes: np.ndarray, probability: np.ndarray, class_names, min_area: int = MIN_AREA,
            **extra) -> Detections:
    """Detections of the connected regions of each class in a class map."""
    boxes, scores, labels, masks = [], [], [], []
    for label in np.unique(classes):
        if label == 0:
            continue
        count, components, stats, _ = cv2.connectedComponentsWithStats((classes == label).view(np.uint8), connectivity=8)
        for k in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[k])
            if area < min_area:
                continue
            bitmap = components[y : y + h, x : x + w] == k
            boxes.append([x, y, x + w, y + h])
            scores.append(float(probability[y : y + h, x : x + w][bitmap].mean()))
            labels.append(int(label))
            masks.append(CroppedMask(x, y, bitmap))
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    return Detections(
        image_size=classes.shape, boxes=np.asarray(boxes, np.float32).reshape(-1, 4)[order],
        scores=np.asarray(scores, np.float32)[order], labels=np.asarray(labels, np.int64)[order],
        class_names=tuple(class_names), masks=tuple(masks[i] for i in order), **extra)


class SegmenterDetector:
    """The Detector interface (name, class_names, device_info, outputs, predict) over a Segmenter."""

    outputs = frozenset({"boxes", "masks"})

    def __init__(self, path: str | os.PathLike, device: str = "auto"):
        self.segmenter = Segmenter(path, device=device)
        self.name = Path(path).name
        self.device, self.device_info = self.segmenter.device, self.segmenter.device_info
        self.class_names = self.segmenter.class_names
        self.batch_size, self.size = 1, None

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        results = []
        for image in images:
            began = time.perf_counter()
            classes, probability = self.segmenter.predict_with_confidence(image)
            results.append(regions(classes, probability, self.class_names, model_name=self.name,
                                   inference_seconds=time.perf_counter() - began))
        return results


@dataclass(frozen=True)
class SegmenterSpec(models.ModelSpec):
    """A segmenter file in the user models folder, listed like a registry model."""

    path: Path = Path()

    @property
    def categories(self) -> tuple[str, ...]:
        return load_segmenter_file(self.path).class_names

    def weights_path(self) -> Path:
        return self.path

    def weight_status(self) -> models.WeightStatus:
        size = self.path.stat().st_size if self.path.is_file() else 0
        return models.WeightStatus("cached" if size else "missing", self.path, size)


def segmenter_specs(folder: Optional[Path] = None) -> list[SegmenterSpec]:
    """A spec per segmenter file in `folder` (default: the user models folder), by name."""
    folder = Path(folder) if folder else W.user_models_dir()
    if not folder.is_dir():
        return []
    found = sorted(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".") and is_segmenter_file(p))
    return [SegmenterSpec(name=p.name, title=f"{p.stem} (segmenter)", outputs=frozenset({"boxes", "masks"}),
                          build=lambda p=p: load_segmenter_file(p).build(), path=p) for p in found]


def open_model(name: str, device: str = "auto"):
    """A Detector for a registry name or detector weights file, a SegmenterDetector for a
    segmenter file (a path, or a file name in the user models folder)."""
    path = Path(name) if os.sep in name or Path(name).is_file() else W.user_models_dir() / name
    if name not in models.REGISTRY and path.is_file() and is_segmenter_file(path):
        return SegmenterDetector(path, device=device)
    return Detector(name, device=device)
