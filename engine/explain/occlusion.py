"""Occlusion sensitivity (Zeiler and Fergus): slide a grey patch over the image, run the model
on each occluded copy and record how much the target's score drops where the patch was.

One sweep serves several targets at once (a detector's detections): `sweep` asks a scoring
function for the scores of every target on a batch of occluded copies. Each pixel's value is
the mean drop over the patches that covered it, as a fraction of the target's score on the
whole image, clipped to 0..1.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch

from engine.explain.maps import to_image_size
from engine.explain.types import Heatmap
from engine.types import CancelToken, Progress, ProgressCallback

Window = tuple[int, int, int, int]  # y0, x0, y1, x1
MATCH_IOU = 0.5  # an occluded run's detection is "the same" when its box overlaps this much
GREY = 128  # the patch, in 0..255


def windows(height: int, width: int, patch: int, stride: int) -> list[Window]:
    """Patch positions `stride` apart that cover the whole image (the last ones flush with
    the right and bottom edges)."""
    patch_h, patch_w = min(patch, height), min(patch, width)

    def starts(size: int, extent: int) -> list[int]:
        last = size - extent
        return sorted(set(list(range(0, last + 1, max(1, stride))) + [last]))

    return [(y, x, y + patch_h, x + patch_w) for y in starts(height, patch_h) for x in starts(width, patch_w)]


def default_patch(height: int, width: int, fraction: float = 1 / 8) -> tuple[int, int]:
    """(patch, stride): an eighth of the shorter side (at least 8 px), half of that apart."""
    patch = max(8, int(round(min(height, width) * fraction)))
    return patch, max(1, patch // 2)


def sweep(
    shape: tuple[int, int],
    base: np.ndarray,
    scores: Callable[[Sequence[Window]], np.ndarray],
    patch: int,
    stride: int,
    batch_size: int = 8,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """(K, H, W) relative drops for K targets whose unoccluded scores are `base` (K,).
    `scores(windows)` returns the (len(windows), K) scores with each window occluded."""
    height, width = shape
    if patch < 1 or stride < 1:
        raise ValueError("the occlusion patch and stride must be at least 1 pixel")
    base = np.asarray(base, np.float64).reshape(-1)
    drops = np.zeros((len(base), height, width), np.float64)
    counts = np.zeros((height, width), np.float64)
    todo, began = windows(height, width, patch, stride), time.monotonic()
    for start in range(0, len(todo), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = todo[start : start + batch_size]
        occluded = np.asarray(scores(chunk), np.float64).reshape(len(chunk), len(base))
        for (y0, x0, y1, x1), row in zip(chunk, occluded):
            drops[:, y0:y1, x0:x1] += (base - row)[:, None, None]
            counts[y0:y1, x0:x1] += 1
        if progress is not None:
            done = start + len(chunk)
            progress(Progress(done, len(todo), "occlusion", time.monotonic() - began))
    relative = drops / np.maximum(counts, 1)[None] / np.maximum(base, 1e-6)[:, None, None]
    return np.clip(relative, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------- classifier


def classifier_occlusion(
    classifier,
    image: np.ndarray,
    target: Union[None, int, str] = None,
    patch: Optional[int] = None,
    stride: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> Heatmap:
    """The drop in the target class's probability as a grey patch slides over the classifier's
    square input (patch and stride in input pixels; default an eighth of it, half apart)."""
    from engine.explain.cam import class_index

    height, width = np.asarray(image).shape[:2]
    model, device = classifier.model, classifier.device
    tensor = classifier.preprocess(image).to(device)
    mean, std = (torch.tensor(v, dtype=torch.float32) for v in (classifier.checkpoint.mean, classifier.checkpoint.std))
    grey = ((GREY / 255.0 - mean) / std).reshape(3, 1, 1).to(device)
    default = default_patch(*tensor.shape[1:])
    patch, stride = patch or default[0], stride or default[1]

    def probabilities(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(model(batch).float(), dim=1).cpu().numpy()

    whole = probabilities(tensor[None])[0]
    index = class_index(classifier.class_names, target, whole)

    def scores(chunk: Sequence[Window]) -> np.ndarray:
        batch = tensor[None].repeat(len(chunk), 1, 1, 1)
        for i, (y0, x0, y1, x1) in enumerate(chunk):
            batch[i, :, y0:y1, x0:x1] = grey
        return probabilities(batch)[:, index : index + 1]

    drops = sweep(tuple(tensor.shape[1:]), whole[index : index + 1], scores, patch, stride,
                  classifier.batch_size, progress, cancel)[0]  # fmt: skip
    return Heatmap("occlusion", to_image_size(drops, height, width), classifier.class_names[index], float(whole[index]))


# ---------------------------------------------------------------------------- detector


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of xyxy boxes."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x0, y0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x1, y1 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda boxes: (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def matched_scores(reference, found) -> np.ndarray:
    """For each reference detection, the score of the same-class detection in `found` that
    overlaps it most (IoU at least MATCH_IOU), else 0: the detection is gone."""
    out = np.zeros(len(reference), np.float64)
    if len(found) == 0 or len(reference) == 0:
        return out
    iou = box_iou(reference.boxes, found.boxes)
    iou[reference.labels[:, None] != found.labels[None, :]] = 0.0
    for k in range(len(reference)):
        j = int(np.argmax(iou[k]))
        if iou[k, j] >= MATCH_IOU:
            out[k] = float(found.scores[j])
    return out


def detector_occlusion(
    detector,
    image: np.ndarray,
    detections,
    patch: Optional[int] = None,
    stride: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> list[Heatmap]:
    """One map per detection in `detections` (found by `detector` on `image`): the drop in that
    detection's score as a grey patch hides each region (patch and stride in image pixels;
    default an eighth of the shorter side, half apart). A detection is followed across the
    occluded runs by IoU with the same class (`matched_scores`)."""
    height, width = image.shape[:2]
    if len(detections) == 0:
        return []
    default = default_patch(height, width)
    patch, stride = patch or default[0], stride or default[1]

    def scores(chunk: Sequence[Window]) -> np.ndarray:
        copies = []
        for y0, x0, y1, x1 in chunk:
            copy = image.copy()
            copy[y0:y1, x0:x1] = GREY
            copies.append(copy)
        return np.stack([matched_scores(detections, found) for found in detector.predict(copies)])

    drops = sweep((height, width), detections.scores, scores, patch, stride, detector.batch_size, progress, cancel)
    names = detections.names
    return [Heatmap("occlusion", drops[k], names[k], float(detections.scores[k]), k, detections.boxes[k].copy())
            for k in range(len(detections))]  # fmt: skip
