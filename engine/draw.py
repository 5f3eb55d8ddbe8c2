"""Drawing detections onto an image with OpenCV: masks, boxes, labels, keypoints, skeleton.

Used for `--overlays`, annotated-image export and annotated video; the GUI draws its own
interactive overlays with Qt but takes its colours from `class_colour` so both agree.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from engine.label_placement import place_labels
from engine.types import Detections


def class_colour(label: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour per class index (golden-angle hues)."""
    hue = (label * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass(frozen=True)
class OverlayStyle:
    masks: bool = True
    boxes: bool = True
    labels: bool = True
    keypoints: bool = True
    mask_opacity: float = 0.45
    line_width: int = 2


def _blend_mask(image: np.ndarray, det: Detections, i: int, colour, opacity: float) -> None:
    mask = det.masks[i]
    h, w = mask.bitmap.shape
    if h == 0 or w == 0:
        return
    region = image[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w]
    bitmap = mask.bitmap[: region.shape[0], : region.shape[1]]
    tint = np.array(colour, np.float32)
    region[bitmap] = (region[bitmap] * (1 - opacity) + tint * opacity).astype(np.uint8)


def label_layout(image_shape: tuple[int, ...], boxes: np.ndarray, texts: Sequence[str],
                 order: Optional[Sequence[int]] = None) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of each label tag drawn on an image of this shape: inside the
    image and not over each other where there is room (`engine.label_placement`)."""
    scale = _label_scale(image_shape)
    sizes = []
    for text in texts:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        sizes.append((tw + 4, th + base + 3))
    corners = place_labels(boxes.tolist(), sizes, (image_shape[1], image_shape[0]), order)
    return [(int(round(x)), int(round(y)), w, h) for (x, y), (w, h) in zip(corners, sizes)]


def _label_scale(image_shape: tuple[int, ...]) -> float:
    return max(0.4, min(image_shape[:2]) / 1000)


def _draw_label(image: np.ndarray, text: str, rect: tuple[int, int, int, int], colour) -> None:
    x, y, w, h = rect
    scale = _label_scale(image.shape)
    _size, base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, thickness=-1)
    cv2.putText(image, text, (x + 2, y + h - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _draw_keypoints(image: np.ndarray, points: np.ndarray, skeleton, colour, width: int) -> None:
    visible = points[:, 2] > 0
    for a, b in skeleton:
        if visible[a] and visible[b]:
            pa, pb = points[a, :2].astype(int), points[b, :2].astype(int)
            cv2.line(image, tuple(pa.tolist()), tuple(pb.tolist()), colour, width, cv2.LINE_AA)
    radius = max(2, width + 1)
    for (x, y, _), ok in zip(points, visible):
        if ok:
            cv2.circle(image, (int(x), int(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(image, (int(x), int(y)), radius, colour, 1, cv2.LINE_AA)


def draw_detections(
    image: np.ndarray,
    det: Detections,
    style: OverlayStyle = OverlayStyle(),
    names: Optional[Sequence[str]] = None,
) -> np.ndarray:
    """A copy of the RGB `image` with `det` drawn on it; `names` override the class labels."""
    out = image.copy()
    names = list(names) if names is not None else det.names
    if style.masks and det.masks is not None:
        for i in range(len(det)):
            _blend_mask(out, det, i, class_colour(int(det.labels[i])), style.mask_opacity)
    for i in range(len(det)):
        colour = class_colour(int(det.labels[i]))
        x1, y1, x2, y2 = (int(round(v)) for v in det.boxes[i])
        if style.boxes:
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, style.line_width)
        if style.keypoints and det.keypoints is not None:
            _draw_keypoints(out, det.keypoints[i], det.skeleton, colour, style.line_width)
    if style.labels and len(det):  # last, over every box, placed so none hides another
        texts = [f"{names[i]} {det.scores[i]:.2f}" for i in range(len(det))]
        rects = label_layout(out.shape, det.boxes, texts, np.argsort(-det.scores, kind="stable"))
        for i, rect in enumerate(rects):
            _draw_label(out, texts[i], rect, class_colour(int(det.labels[i])))
    return out


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode PNG")
    return data.tobytes()
