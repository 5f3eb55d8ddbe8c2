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


# ---------------------------------------------------------------------------- class = colour

COLOUR_CLASSES = {"red": (215, 45, 45), "green": (40, 175, 60), "blue": (45, 75, 215)}


def draw_colour_shape(
    colour: tuple[int, int, int], height: int, width: int, rng: np.random.Generator, extent=(0.15, 0.3)
) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask): one small shape of random form (circle, square or triangle), `extent`
    of the shorter side across, at a random place on a grey noisy (H, W) background. Only its
    colour (jittered by up to 25 per channel) tells its class."""
    background = rng.integers(90, 160, size=(height, width, 3), dtype=np.uint8)
    size = max(4, int(min(height, width) * rng.uniform(*extent)))
    x0, y0 = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
    mask_image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask_image)
    form = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
    corners = [x0, y0, x0 + size - 1, y0 + size - 1]
    if form == "circle":
        draw.ellipse(corners, fill=255)
    elif form == "square":
        draw.rectangle(corners, fill=255)
    else:
        draw.polygon([(x0 + (size - 1) / 2, y0), (x0, y0 + size - 1), (x0 + size - 1, y0 + size - 1)], fill=255)
    mask = np.asarray(mask_image) > 0
    tint = np.clip(np.array(colour) + rng.integers(-25, 26, size=3), 0, 255).astype(np.uint8)
    image = background.copy()
    image[mask] = tint
    return image, mask


def write_colour_shapes(
    folder: str | Path, per_class: int, seed: int, sizes=(96, 256), classes=COLOUR_CLASSES
) -> list[tuple[Path, str, np.ndarray]]:
    """Write folder/<colour>/NNN.png, each image's height and width drawn from `sizes`
    (so sizes and aspect ratios vary); returns (path, class, shape mask) for every image."""
    rng = np.random.default_rng(seed)
    written = []
    for name, colour in classes.items():
        (Path(folder) / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            height, width = (int(v) for v in rng.integers(sizes[0], sizes[1] + 1, size=2))
            image, mask = draw_colour_shape(colour, height, width, rng)
            path = Path(folder) / name / f"{index:03d}.png"
            Image.fromarray(image).save(path)
            written.append((path, name, mask))
    return written


# ---------------------------------------------------------------------------- class = stripe orientation

STRIPE_CLASSES = {"horizontal": 0.0, "vertical": 90.0, "diagonal": 45.0}  # stripe direction, degrees


def draw_stripes(angle: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size, 3) uint8 texture: stripes running at `angle` degrees (jittered by up to 8),
    of random period, phase, contrast and tint, with pixel noise."""
    theta = np.deg2rad(angle + rng.uniform(-8, 8))
    period = rng.uniform(5, 12)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    across = -x * np.sin(theta) + y * np.cos(theta)  # distance across the stripes
    wave = np.sin(2 * np.pi * across / period + rng.uniform(0, 2 * np.pi))
    contrast, base = rng.uniform(30, 80), rng.uniform(90, 160, size=3)
    image = base[None, None, :] + contrast * wave[..., None] + rng.normal(0, 12, size=(size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_stripes(folder: str | Path, per_class: int, seed: int, size: int = 64,
                  classes: dict[str, float] = STRIPE_CLASSES) -> dict[str, list[Path]]:
    """folder/<orientation>/NNN.png, `per_class` stripe textures of each orientation."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[Path]] = {}
    for name, angle in classes.items():
        (Path(folder) / name).mkdir(parents=True, exist_ok=True)
        written[name] = []
        for index in range(per_class):
            path = Path(folder) / name / f"{index:03d}.png"
            Image.fromarray(draw_stripes(angle, size, rng)).save(path)
            written[name].append(path)
    return written
