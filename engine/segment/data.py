"""Training data for the segmenter: images with a class-index map per pixel.

A map holds 0 for background, 1..K for the K classes (in `class_names` order, after
"background") and IGNORE where the truth is unknown (crowd regions, padding, undecided
detections of a review). Samples are kept in memory at most MAX_SCALE times the working size,
so a folder of large photos costs no more than a folder of small ones.

`load_coco` reads a COCO instances file: polygons and RLE masks, `file_name` absolute or
relative to the JSON file (or to the image folder). Larger masks are painted first so a small
object on top of a large one keeps its pixels. An image that cannot be read is reported and
left out; the rest carry on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from engine.images import ImageLoadError, load_image
from engine.types import CancelToken, ImageFailure, Progress, ProgressCallback

IGNORE = 255
BACKGROUND = "background"
MAX_SCALE = 1.4  # stored size relative to the working size: room for scale augmentation
MAX_CLASSES = 254  # class indices must fit in a uint8 map next to IGNORE


class DataError(Exception):
    """Training data that cannot be used at all; the message says which file and why."""


@dataclass(frozen=True)
class Sample:
    source: str  # the file (and frame) it came from: for messages and the train/val split
    image: np.ndarray  # (H, W, 3) uint8 RGB
    target: np.ndarray  # (H, W) uint8 class index, IGNORE where unknown


@dataclass
class SegmentationData:
    class_names: tuple[str, ...]  # "background" first
    samples: list[Sample] = field(default_factory=list)
    failures: list[ImageFailure] = field(default_factory=list)

    def pixel_counts(self) -> np.ndarray:
        """Labelled pixels per class over all samples (IGNORE not counted)."""
        counts = np.zeros(len(self.class_names), np.int64)
        for sample in self.samples:
            counts += np.bincount(sample.target.ravel(), minlength=256)[: len(self.class_names)]
        return counts


def shrink(image: np.ndarray, target: np.ndarray, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image and map scaled down so the longer side is at most MAX_SCALE * image_size."""
    height, width = target.shape
    scale = image_size * MAX_SCALE / max(height, width)
    if scale >= 1.0:
        return image, target
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(target, size, interpolation=cv2.INTER_NEAREST))


def _decode(segmentation, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, list):  # polygons
        rles = mask_utils.frPyObjects(segmentation, height, width)
        return mask_utils.decode(mask_utils.merge(rles)).astype(bool)
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        segmentation = mask_utils.frPyObjects(segmentation, height, width)
    return mask_utils.decode(segmentation).astype(bool)


def paint(shape: tuple[int, int], masks: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """A class map from (bool mask, class index) pairs, the largest painted first."""
    target = np.zeros(shape, np.uint8)
    for mask, label in sorted(masks, key=lambda item: -int(item[0].sum())):
        target[mask] = label
    return target


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable COCO JSON file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise DataError(f"{path}: not a COCO instances file (no 'images' list)")
    if not document.get("categories"):
        raise DataError(f"{path}: no categories: nothing to learn")
    return document


def _resolve(file_name: str, annotations: Path, folder: Optional[Path]) -> Path:
    path = Path(file_name)
    if path.is_absolute():
        return path
    beside_json = annotations.parent / path
    if beside_json.exists() or folder is None:
        return beside_json
    return folder / path


def _coco_target(entry: dict, annotations: list[dict], index_of: dict[int, int], height: int, width: int) -> np.ndarray:
    masks, crowd = [], np.zeros((height, width), bool)
    for ann in annotations:
        segmentation = ann.get("segmentation")
        if not segmentation or ann.get("category_id") not in index_of:
            continue
        mask = _decode(segmentation, height, width)
        if ann.get("iscrowd"):
            crowd |= mask
        else:
            masks.append((mask, index_of[ann["category_id"]]))
    target = paint((height, width), masks)
    target[crowd] = IGNORE
    return target


def load_coco(annotations: str | os.PathLike, folder: Optional[str | os.PathLike] = None, image_size: int = 320,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> SegmentationData:
    """Every image of a COCO instances file with its class map. Raises DataError when the
    file itself is unusable; unreadable images are listed in `failures`."""
    annotations = Path(annotations)
    folder = Path(folder) if folder else None
    document = _read_json(annotations)
    categories = sorted(document["categories"], key=lambda c: c["id"])
    if len(categories) > MAX_CLASSES:
        raise DataError(f"{annotations}: {len(categories)} categories; at most {MAX_CLASSES} fit a class map")
    index_of = {c["id"]: i + 1 for i, c in enumerate(categories)}
    by_image: dict = {}
    for ann in document.get("annotations") or []:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    data = SegmentationData((BACKGROUND, *(str(c["name"]) for c in categories)))
    entries = document["images"]
    for done, entry in enumerate(entries, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        path = _resolve(str(entry.get("file_name", "")), annotations, folder)
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            data.failures.append(ImageFailure(str(path), exc.reason))
            continue
        height, width = image.shape[:2]
        if (entry.get("height"), entry.get("width")) not in ((height, width), (None, None)):
            data.failures.append(ImageFailure(str(path), f"is {width}x{height}, the annotations say "
                                              f"{entry.get('width')}x{entry.get('height')}"))
            continue
        target = _coco_target(entry, by_image.get(entry.get("id"), []), index_of, height, width)
        data.samples.append(Sample(str(path), *shrink(image, target, image_size)))
        if progress is not None:
            progress(Progress(done, len(entries), "reading annotations"))
    return data


def find_annotations(folder: str | os.PathLike) -> Path:
    """FOLDER/annotations.json, else the only .json file in FOLDER; DataError otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if (folder / "annotations.json").is_file():
        return folder / "annotations.json"
    found = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(f"{folder}: no COCO annotations file found; name it with --annotations FILE.json "
                        "or use --from-review")
    raise DataError(f"{folder}: several .json files ({', '.join(p.name for p in found[:5])}); "
                    "choose one with --annotations")


def split(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Training and validation samples, split by source file (all frames of one video go to the
    same side; frames are split only when they all come from one video), seeded; at least one
    of each when there are two or more samples."""
    key = lambda s: s.source.split("#")[0]  # noqa: E731 - "video#frame" -> video
    if len({key(s) for s in samples}) < 2:
        key = lambda s: s.source  # noqa: E731
    sources = sorted({key(s) for s in samples})
    order = np.random.default_rng(seed).permutation(len(sources))
    count = int(round(len(sources) * val_fraction))
    count = min(max(count, 1 if len(sources) > 1 else 0), max(0, len(sources) - 1))
    held_out = {sources[i] for i in order[:count]}
    return [s for s in samples if key(s) not in held_out], [s for s in samples if key(s) in held_out]
