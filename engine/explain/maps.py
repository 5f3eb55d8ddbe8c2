"""Maps in image pixels, and pictures of them: resizing to the original size, colouring,
overlays, grids, and writing `.npy` / `.png` files atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from engine.draw import encode_png
from engine.export import write_bytes_atomic


def unit_range(values: np.ndarray) -> np.ndarray:
    """`values` scaled to 0..1 (min to 0, max to 1) as float32; all zeros when flat."""
    values = np.asarray(values, np.float32)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if high - low <= 1e-12:
        return np.zeros_like(values, np.float32)
    return (values - low) / (high - low)


def to_image_size(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 2-D map of any size stretched (bilinear) to (height, width), clipped to 0..1, float32."""
    values = np.asarray(values, np.float32)
    if values.shape != (height, width):
        values = cv2.resize(values, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    return np.clip(values, 0.0, 1.0).astype(np.float32, copy=False)


def cells_to_image(cells: np.ndarray, stride: float, input_size: tuple[int, int], height: int, width: int) -> np.ndarray:
    """A feature-grid map drawn at the original image's (height, width), where the model saw
    the image stretched to `input_size` (h, w) pixels, and cell (i, j) of the grid sits on
    input pixel (stride * i, stride * j), as in a ResNet (symmetric padding). A plain resize
    would put it half a cell lower and further right: 16 input pixels at layer4."""
    in_h, in_w = input_size
    sx, sy = in_w / width, in_h / height
    matrix = np.array([[sx / stride, 0.0, (0.5 * sx - 0.5) / stride],
                       [0.0, sy / stride, (0.5 * sy - 0.5) / stride]], np.float64)  # fmt: skip
    values = cv2.warpAffine(np.asarray(cells, np.float32), matrix, (int(width), int(height)),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return np.clip(values, 0.0, 1.0).astype(np.float32, copy=False)


def nominal_stride(input_side: int, cells: int) -> int:
    """The power-of-two stride of a stage whose `cells` span `input_side` pixels."""
    return int(2 ** round(np.log2(max(1.0, input_side / max(1, cells)))))


def colourise(values: np.ndarray) -> np.ndarray:
    """(H, W) 0..1 as an (H, W, 3) uint8 RGB picture: blue (0) through red (1), OpenCV's jet."""
    grey = np.clip(np.asarray(values, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, values: np.ndarray, opacity: float = 0.5, box: Optional[Sequence[float]] = None) -> np.ndarray:
    """The RGB `image` with the coloured map blended over it at `opacity`; `box` outlined."""
    colours = colourise(values).astype(np.float32)
    out = (image.astype(np.float32) * (1.0 - opacity) + colours * opacity).round().astype(np.uint8)
    if box is not None:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        width = max(1, min(image.shape[:2]) // 200)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), width + 2)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 0, 0), width)
    return out


def grid(tiles: Sequence[np.ndarray], columns: int, gap: int = 2, background: int = 40) -> np.ndarray:
    """Equal-sized (h, w, 3) uint8 tiles laid out in rows of `columns`, `gap` pixels apart."""
    if not tiles:
        return np.full((1, 1, 3), background, np.uint8)
    h, w = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    out = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), background, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        out[y : y + h, x : x + w] = tile
    return out


def filter_grid(weights: np.ndarray, cell: int = 28) -> np.ndarray:
    """(N, kh, kw, 3) 0..1 filters as one picture, each enlarged (nearest) to about `cell` px."""
    n, kh, kw = weights.shape[:3]
    scale = max(1, cell // max(kh, kw))
    tiles = [np.repeat(np.repeat((f * 255 + 0.5).astype(np.uint8), scale, 0), scale, 1) for f in weights]
    return grid(tiles, columns=int(np.ceil(np.sqrt(n))), gap=2)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    return write_bytes_atomic(path, npy_bytes(array))


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    return write_bytes_atomic(path, encode_png(image))
