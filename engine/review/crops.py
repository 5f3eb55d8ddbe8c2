"""Reviewed detections as classifier training data (the R-CNN recipe): every accepted or
relabelled detection cut out of its image into DEST/<final class>/, ready for `sightline train
DEST` or the training wizard. The class is the reviewer's final one (the relabel, else the
model's); rejected and undecided detections are left out.

`margin` grows each box by that share of its width and height on every side (DEFAULT_MARGIN is
the classifier's own CROP_PADDING, so training crops look like the crops it later sees);
`cut_out` paints the pixels outside the detection's mask black where the model made a mask.
Files are PNG, named <image stem>[-frame<N>]-<detection number>.png, each written atomically;
an export again over the same folder replaces its own files and never writes over an input.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import numpy as np

from engine.classify import CROP_PADDING, crop_window
from engine.draw import encode_png
from engine.export import ExportItem, write_bytes_atomic
from engine.types import CancelToken, Progress

DEFAULT_MARGIN = CROP_PADDING
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def class_folder(name: str) -> str:
    """A folder name for the class `name` (path separators and reserved characters replaced)."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned or "_"


def crop(image: np.ndarray, item: ExportItem, index: int, margin: float, cut_out: bool) -> np.ndarray:
    """Detection `index` of the item cut out of `image`, with the margin, masked if asked."""
    det = item.detections
    left, top, right, bottom = crop_window(det.boxes[index], margin, *image.shape[:2])
    piece = image[top:bottom, left:right].copy()
    if cut_out and det.masks is not None:
        full = det.masks[index].to_full(*image.shape[:2])
        piece[~full[top:bottom, left:right]] = 0
    return piece


def crop_name(item: ExportItem, index: int) -> str:
    frame = item.image_extras.get("frame_index")
    stem = Path(item.file_name).stem + (f"-frame{frame}" if frame is not None else "")
    number = (item.annotation_extras or [{}] * (index + 1))[index].get("detection_index", index) + 1
    return f"{stem}-{number:03d}.png"


def write_crops(items: list[ExportItem], destination: Path, margin: float, cut_out: bool, report, read_picture,
                inputs: set[str], cancel: Optional[CancelToken] = None, progress=None) -> None:
    """Write every detection of `items` (already the accepted ones, final labels) as a crop;
    `read_picture(path, frame)` gives the RGB image or None (counted in report.failed)."""
    destination = Path(destination)
    for n, item in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        image = read_picture(item.file_name, item.image_extras.get("frame_index"))
        if image is None:
            report.failed += 1
            continue
        det = item.detections
        for index in range(len(det)):
            target = destination / class_folder(det.class_names[int(det.labels[index])]) / crop_name(item, index)
            if os.path.normcase(os.path.realpath(target)) in inputs:
                continue  # never write over an image being exported
            report.written.append(write_bytes_atomic(target, encode_png(crop(image, item, index, margin, cut_out))))
        if progress is not None:
            progress(Progress(n + 1, len(items), "writing crops"))
