"""Where each detection's label tag goes so that every tag stays readable: inside the image,
and no tag over another while there is room. Pure geometry, used by the window's canvas (in
scene units, the tags' screen size divided by the zoom) and by the annotated exports (in
pixels), so both place labels the same way.

Each tag prefers the spot just above its box's top-left corner (where it always was); when
that is taken or off the image it tries inside the box's top, below the box, inside its
bottom, then the same on the right; then it slides up and down from its first choice; when
nothing is free (more tags than room) it takes the spot that covers the least.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def _candidates(box: Sequence[float], w: float, h: float) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = (float(v) for v in box)
    left, right = x1, x2 - w
    first = [(left, y1 - h), (left, y1), (left, y2), (left, y2 - h),
             (right, y1 - h), (right, y1), (right, y2), (right, y2 - h)]
    steps = min(16, max(1, int((y2 - y1) / max(h, 1e-6)) + 4))
    slides = [(left, y1 - h - k * h) for k in range(1, steps)] + [(left, y1 + k * h) for k in range(1, steps)]
    return first + slides


def place_labels(boxes: Sequence[Sequence[float]], sizes: Sequence[tuple[float, float]],
                 bounds: tuple[float, float], order: Optional[Sequence[int]] = None) -> list[tuple[float, float]]:
    """The top-left corner of each label: `sizes[i]` (width, height) is the tag of `boxes[i]`
    (x1, y1, x2, y2); every tag lies inside `bounds` (width, height) where it fits, and no
    tag overlaps another where there is room. Tags are placed in `order` (default: as given),
    earlier ones getting the better spots (give the selected and highest scores first)."""
    order = list(range(len(boxes))) if order is None else list(order)
    width, height = bounds
    placed = np.zeros((0, 4))  # x, y, w, h of the tags placed so far
    corners: list[tuple[float, float]] = [(0.0, 0.0)] * len(boxes)
    for i in order:
        w, h = sizes[i]
        spots = np.array(_candidates(boxes[i], w, h), float)
        spots[:, 0] = np.clip(spots[:, 0], 0.0, max(width - w, 0.0))  # inside the image where it fits
        spots[:, 1] = np.clip(spots[:, 1], 0.0, max(height - h, 0.0))
        dx = np.minimum(spots[:, None, 0] + w, placed[None, :, 0] + placed[None, :, 2]) \
            - np.maximum(spots[:, None, 0], placed[None, :, 0])
        dy = np.minimum(spots[:, None, 1] + h, placed[None, :, 1] + placed[None, :, 3]) \
            - np.maximum(spots[:, None, 1], placed[None, :, 1])
        covered = (np.where((dx > 1e-6) & (dy > 1e-6), dx * dy, 0.0)).sum(axis=1)
        free = np.flatnonzero(covered == 0.0)
        best = int(free[0]) if len(free) else int(np.argmin(covered))  # else the spot that covers least
        corners[i] = (float(spots[best, 0]), float(spots[best, 1]))
        placed = np.vstack([placed, [[corners[i][0], corners[i][1], w, h]]])
    return corners
