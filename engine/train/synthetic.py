"""Small labelled image folders of synthetic shapes, for tests, benchmarks and trying the
trainer without data: FOLDER/<class>/NNN.png (or FOLDER/train|val/<class>/)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ("circle", "square", "triangle")
_COLOURS = {"circle": (220, 40, 40), "square": (40, 180, 60), "triangle": (40, 70, 220)}


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size, 3) uint8 image: one coloured shape at a random place on a noisy background."""
    background = rng.integers(90, 160, size=(size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    extent = int(size * rng.uniform(0.45, 0.75))
    x0, y0 = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
    colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in _COLOURS.get(kind, (200, 200, 0)))
    if kind == "circle":
        draw.ellipse([x0, y0, x0 + extent, y0 + extent], fill=colour)
    elif kind == "square":
        draw.rectangle([x0, y0, x0 + extent, y0 + extent], fill=colour)
    else:
        draw.polygon([(x0 + extent / 2, y0), (x0, y0 + extent), (x0 + extent, y0 + extent)], fill=colour)
    return np.asarray(image)


def write_shapes(
    folder: str | Path,
    per_class: int | Sequence[int] = 20,
    size: int = 32,
    classes: Sequence[str] = SHAPE_CLASSES,
    seed: int = 0,
    suffix: str = ".png",
) -> dict[str, list[Path]]:
    """Write `per_class` images (one count, or one per class) of each class under folder/<class>/."""
    rng = np.random.default_rng(seed)
    counts = [per_class] * len(classes) if isinstance(per_class, int) else list(per_class)
    written: dict[str, list[Path]] = {}
    for kind, count in zip(classes, counts):
        class_dir = Path(folder) / kind
        class_dir.mkdir(parents=True, exist_ok=True)
        written[kind] = []
        for index in range(count):
            path = class_dir / f"{index:03d}{suffix}"
            Image.fromarray(draw_shape(kind, size, rng)).save(path)
            written[kind].append(path)
    return written
