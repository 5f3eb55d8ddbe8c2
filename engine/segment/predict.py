"""Running a trained segmenter: an image in, a class-index map at the image's size out.

The image is scaled to the working size (longer side = the file's `input_size`; INTER_AREA
when shrinking), padded to the network's stride, run through the U-Net, the padding cut off,
the logits scaled back to the original size (bilinear) and the best class taken per pixel:
edges come out smooth rather than blocky, and the cost of the network does not depend on the
image's size.
"""

from __future__ import annotations

import os
import time
from typing import Optional

import cv2
import numpy as np
import torch

from engine.devices import describe, resolve_device
from engine.draw import class_colour
from engine.segment.augment import padded, to_tensor, working_size
from engine.segment.model_file import SegmenterFile, load_segmenter_file


class Segmenter:
    """A loaded segmenter; `predict(image)` -> (H, W) uint8 class indices, 0 = background."""

    def __init__(self, model: str | os.PathLike | SegmenterFile, device: str = "auto"):
        self.file = model if isinstance(model, SegmenterFile) else load_segmenter_file(model)
        self.path = "" if isinstance(model, SegmenterFile) else os.fspath(model)
        self.device = resolve_device(device)
        self.device_info = describe(self.device)
        self.network = self.file.build().to(self.device)
        self.class_names = self.file.class_names
        self.input_size = self.file.input_size
        self.name = self.file.name or os.path.basename(self.path) or "segmenter"
        self.last_seconds = 0.0

    def logits(self, image: np.ndarray) -> np.ndarray:
        """(h, w, C) float32 logits of the padded working image at the network's output
        resolution, and (padded height, padded width, working height, working width)."""
        height, width = working_size(*image.shape[:2], self.input_size)
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA
                           if height < image.shape[0] else cv2.INTER_LINEAR)
        padded_h, padded_w = padded(height, width, self.network.pad_multiple)
        small = cv2.copyMakeBorder(small, 0, padded_h - height, 0, padded_w - width, cv2.BORDER_REPLICATE)
        tensor = to_tensor(small, self.file.mean, self.file.std)[None].to(self.device)
        with torch.inference_mode():
            out = self.network(tensor, upsample=False)[0].float().permute(1, 2, 0).contiguous().cpu().numpy()
        if self.file.background_bias:
            out[..., 0] += self.file.background_bias
        return out, (padded_h, padded_w, height, width)

    def full_logits(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) float32 logits at the image's own size (bilinear from the network's)."""
        logits, dims = self.logits(image)
        return _at_size(logits, dims, *image.shape[:2])

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(H, W) uint8 class map of an (H, W, 3) uint8 RGB image, at its own size."""
        return self.predict_with_confidence(image, confidence=False)[0]

    def predict_with_confidence(self, image: np.ndarray, confidence: bool = True) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """The class map and, when asked, each pixel's probability of its class (float32,
        computed at the network's resolution and scaled up)."""
        began = time.perf_counter()
        logits, dims = self.logits(image)
        classes = _at_size(logits, dims, *image.shape[:2]).argmax(-1).astype(np.uint8)
        probability = None
        if confidence:
            exp = np.exp(logits - logits.max(-1, keepdims=True))
            best = (1.0 / exp.sum(-1)).astype(np.float32)  # the top class's softmax probability
            probability = _at_size(best[..., None], dims, *image.shape[:2])[..., 0]
        self.last_seconds = time.perf_counter() - began
        return classes, probability


def _at_size(values: np.ndarray, dims: tuple[int, int, int, int], full_h: int, full_w: int) -> np.ndarray:
    """(h, w, C) values over the padded working image scaled to the original's scale
    (bilinear), the padding cut off: (full_h, full_w, C)."""
    padded_h, padded_w, height, width = dims
    size = (max(full_w, round(padded_w * full_w / width)), max(full_h, round(padded_h * full_h / height)))
    full = cv2.resize(values, size, interpolation=cv2.INTER_LINEAR).reshape(size[1], size[0], -1)
    return full[:full_h, :full_w]


def palette(count: int) -> np.ndarray:
    """(count, 3) uint8 RGB: black for background, then the detectors' class colours."""
    colours = np.zeros((max(1, count), 3), np.uint8)
    for index in range(1, count):
        colours[index] = class_colour(index)
    return colours


def draw_class_map(image: np.ndarray, classes: np.ndarray, opacity: float = 0.5,
                   colours: Optional[np.ndarray] = None) -> np.ndarray:
    """`image` with every non-background pixel tinted by its class colour (a new array)."""
    colours = palette(int(classes.max()) + 1) if colours is None else colours
    tint = colours[classes]
    out = image.copy()
    where = classes > 0
    out[where] = (image[where] * (1 - opacity) + tint[where] * opacity).astype(np.uint8)
    return out
