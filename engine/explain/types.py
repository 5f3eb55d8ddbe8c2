"""What the explanation methods return: plain numpy in the original image's pixels, no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

CAM_METHODS = ("gradcam", "gradcam++")
METHODS = CAM_METHODS + ("occlusion", "features", "filters")
DETECTOR_METHODS = ("occlusion", "features", "filters")  # Grad-CAM needs a single class score


@dataclass(frozen=True)
class Heatmap:
    """Where the model looked: `values` (H, W) float32 in 0..1, the original image's size.

    Grad-CAM maps are scaled so their maximum is 1; an occlusion map is the drop in the
    target's score when that region is hidden, as a fraction of its score on the whole image
    (0: hiding it changed nothing, 1: hiding it took the whole score away).
    """

    method: str
    values: np.ndarray
    target: str  # the class explained (a classifier's, or the detection's class)
    score: float  # the target's score on the whole, unoccluded image
    detection: int = -1  # for a detector: the detection's index in the Detections given
    box: Optional[np.ndarray] = None  # for a detector: the detection's box, xyxy image pixels

    @property
    def peak(self) -> tuple[int, int]:
        """(x, y) of the map's maximum."""
        y, x = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        return int(x), int(y)


@dataclass(frozen=True)
class FeatureMaps:
    """The strongest channels of one stage (a ResNet layer or an FPN level) for one image."""

    stage: str  # "layer1".."layer4", "fpn0".., "fpnpool"
    channels: tuple[int, ...]  # channel indices, strongest (largest mean activation) first
    strengths: tuple[float, ...]  # their mean activations
    maps: np.ndarray  # (K, H, W) float32, each channel scaled to 0..1, original image size
    stride: int  # input pixels per feature-map cell, for people


@dataclass(frozen=True)
class Filters:
    """The first convolution's kernels, as colour images."""

    layer: str  # the module's name, e.g. "conv1" or "backbone.body.conv1"
    weights: np.ndarray  # (N, kh, kw, 3) float32, each filter scaled to 0..1 by itself
