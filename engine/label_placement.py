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

Rect = tuple[float, float, float, float]  # x, y, width, height


def _clamp(x: float, y: float, w: float, h: float, bounds: tuple[float, float]) -> tuple[float, float]:
    width, height = bounds
    return min(max(x, 0.0), max(width - w, 0.0)), min(max(y, 0.0), max(height - h, 0.0))


def _overlap(a: Rect, b: Rect) -> float:
    dx = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    dy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return dx * dy if dx > 1e-6 and dy > 1e-6 else 0.0


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
    placed: list[Rect] = []
    corners: list[Optional[tuple[float, float]]] = [None] * len(boxes)
    for i in order:
        w, h = sizes[i]
        best, least = None, None
        for x, y in _candidates(boxes[i], w, h):
            x, y = _clamp(x, y, w, h, bounds)
            covered = sum(_overlap((x, y, w, h), other) for other in placed)
            if least is None or covered < least:
                best, least = (x, y), covered
            if covered == 0.0:
                break
        corners[i] = best
        placed.append((best[0], best[1], w, h))
    return [c if c is not None else (0.0, 0.0) for c in corners]
