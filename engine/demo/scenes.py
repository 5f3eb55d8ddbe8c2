"""Synthetic scenes of filled shapes, the training and test data of the `demo-shapes` model.

A scene is an RGB image with 1 to 5 shapes (circle, axis-aligned square, upright triangle)
painted over a solid or noisy background. Ground truth is exact: each shape's *visible* mask
(later shapes occlude earlier ones), the box of that mask, and four keypoints, the extreme
points of the visible mask (top, right, bottom, left). Everything is pure numpy + OpenCV and
seeded, so the same seed always gives the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASS_NAMES = ("circle", "square", "triangle")
# A fourth shape the bundled model never saw: a plus sign whose arms are a third of its size
# wide. Only scenes made with `make_scene(seed, classes=4)` hold it (the detector benchmark).
EXTENDED_CLASS_NAMES = CLASS_NAMES + ("cross",)
KEYPOINT_NAMES = ("top", "right", "bottom", "left")
SKELETON = ((0, 1), (1, 2), (2, 3), (3, 0))

MIN_SIZE, MAX_SIZE = 12, 48  # radius or half-side, pixels
MAX_OVERLAP = 0.30  # of the smaller shape's area
MIN_VISIBLE = 0.5  # a shape must keep at least half of itself visible


@dataclass(frozen=True)
class ShapeTruth:
    """Ground truth of one shape: class index into CLASS_NAMES, visible mask, box, keypoints."""

    label: int
    mask: np.ndarray  # (H, W) bool, the visible pixels
    box: np.ndarray  # (4,) float32 xyxy, pixel edges: x2 = last column + 1
    keypoints: np.ndarray  # (4, 3) float32 x, y (pixel centres), visibility 2


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    shapes: tuple[ShapeTruth, ...]


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    colour = rng.integers(0, 256, size=3)
    image = np.broadcast_to(colour, (height, width, 3)).astype(np.float32)
    if rng.random() < 0.5:  # noisy: per-pixel noise plus a soft low-frequency blotch
        image += rng.normal(0.0, rng.uniform(4, 20), size=image.shape)
        blotch = rng.normal(0.0, 1.0, size=(height // 32 + 2, width // 32 + 2, 3))
        image += cv2.resize(blotch, (width, height), interpolation=cv2.INTER_CUBIC) * 12
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_mask(label: int, cx: int, cy: int, size: int, height: int, width: int) -> np.ndarray:
    canvas = np.zeros((height, width), np.uint8)
    if label == 0:
        cv2.circle(canvas, (cx, cy), size, 1, thickness=-1, lineType=cv2.LINE_8)
    elif label == 1:
        cv2.rectangle(canvas, (cx - size, cy - size), (cx + size, cy + size), 1, thickness=-1)
    elif label == 3:
        arm = max(2, int(round(size / 3)))  # half the arm width: the arm is 2/3 of `size` wide
        cv2.rectangle(canvas, (cx - size, cy - arm), (cx + size, cy + arm), 1, thickness=-1)
        cv2.rectangle(canvas, (cx - arm, cy - size), (cx + arm, cy + size), 1, thickness=-1)
    else:
        h = int(round(size * np.sqrt(3)))  # equilateral, side 2 * size, apex up
        top = cy - (2 * h) // 3
        points = np.array([[cx, top], [cx + size, top + h], [cx - size, top + h]], np.int32)
        cv2.fillPoly(canvas, [points], 1, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def _distinct_colour(rng: np.random.Generator, covered: np.ndarray) -> np.ndarray:
    """A random colour that stands out from the mean of the pixels it will cover."""
    mean = covered.reshape(-1, 3).mean(axis=0)
    for _ in range(50):
        colour = rng.integers(0, 256, size=3)
        if np.abs(colour - mean).sum() > 120:
            return colour.astype(np.uint8)
    return (255 - mean).astype(np.uint8)


def _run_middle(indices: np.ndarray) -> float:
    """Middle of the longest run of consecutive integers in sorted `indices`."""
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(indices) - 1]])
    longest = int(np.argmax(ends - starts))
    return (indices[starts[longest]] + indices[ends[longest]]) / 2.0


def extreme_keypoints(mask: np.ndarray) -> np.ndarray:
    """Top, right, bottom, left extreme points of a mask, at pixel centres, visibility 2.

    Where several pixels tie for an extreme, the point is the middle of the longest run.
    """
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    points = [
        (_run_middle(np.sort(xs[ys == top])), top),
        (right, _run_middle(np.sort(ys[xs == right]))),
        (_run_middle(np.sort(xs[ys == bottom])), bottom),
        (left, _run_middle(np.sort(ys[xs == left]))),
    ]
    return np.array([(x + 0.5, y + 0.5, 2.0) for x, y in points], np.float32)


def mask_box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def _place_shapes(rng: np.random.Generator, height: int, width: int, count: int, classes: int):
    """Full (unoccluded) masks and labels of up to `count` shapes that overlap at most 30%."""
    placed: list[tuple[int, np.ndarray]] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        label = int(rng.integers(0, classes))
        size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        cx = int(rng.integers(size, width - size))
        cy = int(rng.integers(size, height - size))
        mask = _shape_mask(label, cx, cy, size, height, width)
        area = mask.sum()
        if all((mask & m).sum() <= MAX_OVERLAP * min(area, m.sum()) for _, m in placed):
            placed.append((label, mask))
    return placed


def make_scene(seed: int, classes: int = len(CLASS_NAMES)) -> Scene:
    """The scene for `seed`: 320x240 to 640x480, 1 to 5 shapes, exact ground truth.
    `classes=4` adds crosses (EXTENDED_CLASS_NAMES); the default draws the demo's three."""
    rng = np.random.default_rng(seed)
    width = int(rng.integers(320, 641))
    height = int(rng.integers(240, 481))
    image = _background(rng, height, width)
    while True:
        placed = _place_shapes(rng, height, width, int(rng.integers(1, 6)), classes)
        visible = []
        for i, (label, full) in enumerate(placed):
            occluders = [m for _, m in placed[i + 1 :]]
            mask = full & ~np.logical_or.reduce(occluders) if occluders else full
            visible.append((label, mask, full))
        if all(v.sum() >= MIN_VISIBLE * f.sum() for _, v, f in visible):
            break
    for _label, _mask, full in visible:
        image[full] = _distinct_colour(rng, image[full])
    shapes = tuple(
        ShapeTruth(label, mask, mask_box(mask), extreme_keypoints(mask))
        for label, mask, _ in visible
    )
    return Scene(image=image, shapes=shapes)
