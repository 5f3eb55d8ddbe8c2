"""Short synthetic videos of moving shapes with exact per-frame ground truth.

Used by the video tests, the memory benchmark and as a demo clip: circles, squares and
triangles (drawn exactly as in `scenes`, so the demo model knows them) glide across a plain
background in separate lanes, bouncing off the edges, so they never overlap, never leave the
frame however long the clip, and every frame's boxes are known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from engine.demo.scenes import _shape_mask, mask_box


@dataclass(frozen=True)
class MovingShape:
    label: int  # index into scenes.CLASS_NAMES
    size: int  # radius or half-side in pixels
    start: tuple[float, float]  # centre at frame 0
    velocity: tuple[float, float]  # pixels per frame
    colour: tuple[int, int, int]  # RGB

    def centre(self, frame: int, width: int, height: int) -> tuple[int, int]:
        """Where the shape is at `frame`: moving straight, bouncing off the frame's edges."""
        return (_bounce(self.start[0] + self.velocity[0] * frame, self.size, width - 1 - self.size),
                _bounce(self.start[1] + self.velocity[1] * frame, self.size, height - 1 - self.size))


def _bounce(position: float, low: float, high: float) -> int:
    span = high - low
    if span <= 0:
        return int(round(low))
    offset = (position - low) % (2 * span)
    return int(round(low + (offset if offset <= span else 2 * span - offset)))


def default_shapes(width: int = 320, height: int = 240) -> tuple[MovingShape, ...]:
    """Three shapes in three lanes, moving at different speeds, all inside the frame."""
    lane = height / 3
    return (
        MovingShape(0, 24, (40.0, lane * 0.5), (3.0, 0.0), (230, 40, 40)),
        MovingShape(1, 22, (width - 40.0, lane * 1.5), (-2.5, 0.0), (40, 200, 60)),
        MovingShape(2, 26, (width / 2, lane * 2.5 - 2), (1.5, 0.0), (40, 80, 230)),
    )


def render_frame(frame: int, width: int, height: int, shapes: Sequence[MovingShape],
                 background=(200, 200, 190)) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """The RGB frame and its ground truth [(label, xyxy box)] for the shapes fully inside."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    truth = []
    for shape in shapes:
        cx, cy = shape.centre(frame, width, height)
        mask = _shape_mask(shape.label, cx, cy, shape.size, height, width)
        if not mask.any():
            continue
        image[mask] = shape.colour
        box = mask_box(mask)
        inside = cx - shape.size >= 0 and cy - shape.size >= 0 and cx + shape.size < width and cy + shape.size < height
        if inside:
            truth.append((shape.label, box))
    return image, truth


def write_shapes_video(path: str | os.PathLike, frames: int = 30, width: int = 320, height: int = 240,
                       fps: float = 25.0, fourcc: str = "mp4v",
                       shapes: Optional[Sequence[MovingShape]] = None) -> list[list[tuple[int, np.ndarray]]]:
    """Write the clip with OpenCV; returns the ground truth of every frame written."""
    shapes = tuple(shapes) if shapes is not None else default_shapes(width, height)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    truths = []
    try:
        for i in range(frames):
            image, truth = render_frame(i, width, height, shapes)
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            truths.append(truth)
    finally:
        writer.release()
    return truths
