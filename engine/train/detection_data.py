"""Detection training data: images with labelled objects (box, class name, and where present an
instance mask and keypoints), read from a COCO instances file.

Class labels are kept as names, not ids, so data from different sources (a COCO file, reviews
made with different models, a relabel to a class the base model lacks) meet in one vocabulary
that `engine.train.detection_model` maps onto the model's classes. Bad input is normal input:
a missing image, an annotation with no area or an unknown category is left out and named in
`problems`; only a file that cannot be read as COCO at all stops with DatasetError.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from engine.images import ImageLoadError, image_size
from engine.train.dataset import DatasetError
from engine.types import CancelToken, CroppedMask, Progress, ProgressCallback


@dataclass(frozen=True)
class Instance:
    """One labelled object: xyxy box in pixels, class name, optional mask and keypoints."""

    box: np.ndarray  # (4,) float32 xyxy
    label: str
    mask: CroppedMask | None = None
    keypoints: np.ndarray | None = None  # (K, 3) float32 x, y, visibility (0: not labelled)


@dataclass(frozen=True)
class DetectionSample:
    path: Path
    size: tuple[int, int]  # (height, width) as annotated
    instances: tuple[Instance, ...]


@dataclass
class DetectionData:
    samples: list[DetectionSample]
    source: str  # where the data came from, in words
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    problems: list[str] = field(default_factory=list)  # what was left out, and why
    base_model: str = ""  # the model the data was reviewed with (review store only)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Every class that has an object, in order of first appearance."""
        seen: dict[str, None] = {}
        for sample in self.samples:
            for instance in sample.instances:
                seen.setdefault(instance.label, None)
        return tuple(seen)

    @property
    def instance_count(self) -> int:
        return sum(len(s.instances) for s in self.samples)

    @property
    def has_masks(self) -> bool:
        """Every object has a mask (the mask head trains only then)."""
        instances = [i for s in self.samples for i in s.instances]
        return bool(instances) and all(i.mask is not None for i in instances)

    @property
    def has_keypoints(self) -> bool:
        return bool(self.keypoint_names) and any(
            i.keypoints is not None and (i.keypoints[:, 2] > 0).any() for s in self.samples for i in s.instances)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {name: 0 for name in self.class_names}
        for sample in self.samples:
            for instance in sample.instances:
                counts[instance.label] += 1
        return counts

    def lines(self) -> list[str]:
        """A short report: source, images, objects per class, what is used, what was left out."""
        per_class = ", ".join(f"{name} {count}" for name, count in self.counts().items())
        used = ["boxes"] + (["masks"] if self.has_masks else []) + (["keypoints"] if self.has_keypoints else [])
        lines = [f"data: {self.source}", f"{len(self.samples)} images, {self.instance_count} objects ({per_class})",
                 f"annotations used: {', '.join(used)}"]
        if self.problems:
            lines.append(f"left out ({len(self.problems)}):")
            lines += [f"  {p}" for p in self.problems[:20]]
            if len(self.problems) > 20:
                lines.append(f"  ... and {len(self.problems) - 20} more")
        return lines


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list) \
            or not isinstance(document.get("annotations"), list) or not isinstance(document.get("categories"), list):
        raise DatasetError(f"{path}: not a COCO instances file (it needs 'images', 'annotations' and 'categories')")
    return document


def _resolve(file_name: str, json_folder: Path, folder: Path | None) -> Path | None:
    """`file_name` as given when absolute, else next to the JSON file, else under `folder`."""
    given = Path(file_name)
    candidates = [given] if given.is_absolute() else [json_folder / given] + ([folder / given] if folder else [])
    return next((c for c in candidates if c.is_file()), None)


def decode_segmentation(segmentation, height: int, width: int) -> CroppedMask | None:
    """A COCO polygon list, uncompressed RLE or compressed RLE as a box-cropped mask."""
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6]
        if not polygons:
            return None
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        rle = segmentation
        if isinstance(rle["counts"], list):
            rle = mask_utils.frPyObjects(rle, height, width)
        elif isinstance(rle["counts"], str):
            rle = dict(rle, counts=rle["counts"].encode("ascii"))
    else:
        return None
    return CroppedMask.from_full(mask_utils.decode(rle).astype(bool))


def _keypoints(values, count: int) -> np.ndarray | None:
    if not count or not isinstance(values, list) or len(values) != 3 * count:
        return None
    points = np.asarray(values, np.float32).reshape(count, 3)
    points[points[:, 2] <= 0] = 0.0
    return points


def _instance(annotation: dict, names: dict, size: tuple[int, int], keypoint_count: int) -> Instance:
    """One annotation as an Instance; ValueError saying why it cannot be used."""
    if annotation.get("category_id") not in names:
        raise ValueError(f"unknown category_id {annotation.get('category_id')}")
    bbox = annotation.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError("no bbox")
    x, y, w, h = (float(v) for v in bbox)
    if w < 1 or h < 1:
        raise ValueError(f"a box of {w:g}x{h:g} px")
    mask = None
    if annotation.get("segmentation"):
        try:
            mask = decode_segmentation(annotation["segmentation"], *size)
        except Exception as exc:  # noqa: BLE001 - pycocotools raises several types on bad input
            raise ValueError(f"unreadable segmentation ({exc})") from None
    points = _keypoints(annotation.get("keypoints"), keypoint_count)
    return Instance(np.array([x, y, x + w, y + h], np.float32), names[annotation["category_id"]], mask, points)


def _keypoint_schema(categories: list) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    for category in categories:
        names = category.get("keypoints")
        if isinstance(names, list) and names:
            skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in category.get("skeleton") or [])
            return tuple(str(n) for n in names), skeleton
    return (), ()


def load_coco(json_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> DetectionData:
    """The images and objects of a COCO instances file. `file_name`s are absolute, relative to
    the folder holding the JSON, or (failing that) relative to `folder`. Crowd annotations are
    left out (counted in `problems`), like torchvision's references do."""
    json_path = Path(json_path)
    document = _read_json(json_path)
    names = {c.get("id"): str(c.get("name", c.get("id"))) for c in document["categories"] if isinstance(c, dict)}
    keypoint_names, skeleton = _keypoint_schema(document["categories"])
    by_image: dict = {}
    for annotation in document["annotations"]:
        if isinstance(annotation, dict):
            by_image.setdefault(annotation.get("image_id"), []).append(annotation)
    data = DetectionData([], f"{json_path} (COCO)", keypoint_names, skeleton)
    for entry in document["images"]:
        sample = _coco_sample(entry, by_image, names, json_path, folder, data)
        if sample is not None:
            data.samples.append(sample)
    if not data.samples:
        raise DatasetError(f"{json_path}: no usable images ({len(data.problems)} left out"
                           + (f"; first: {data.problems[0]}" if data.problems else "") + ")")
    return data


def _coco_sample(entry, by_image: dict, names: dict, json_path: Path, folder, data: DetectionData):
    if not isinstance(entry, dict) or "file_name" not in entry:
        data.problems.append(f"{json_path}: an image entry without file_name")
        return None
    path = _resolve(str(entry["file_name"]), json_path.parent, Path(folder) if folder else None)
    if path is None:
        data.problems.append(f"{entry['file_name']}: file not found (next to {json_path.name}"
                             + (f" or in {folder}" if folder else "") + ")")
        return None
    try:
        size = (int(entry["height"]), int(entry["width"])) if "height" in entry and "width" in entry \
            else image_size(path)
    except ImageLoadError as exc:
        data.problems.append(f"{path}: {exc.reason}")
        return None
    instances = []
    for annotation in by_image.get(entry.get("id"), []):
        if annotation.get("iscrowd"):
            data.problems.append(f"{path.name}: annotation {annotation.get('id')}: crowd region (not trained on)")
            continue
        try:
            instances.append(_instance(annotation, names, size, len(data.keypoint_names)))
        except ValueError as exc:
            data.problems.append(f"{path.name}: annotation {annotation.get('id')}: {exc}")
    return DetectionSample(path, size, tuple(instances))


def check_images(data: DetectionData, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> DetectionData:
    """Leave out images that cannot be read or whose size differs from their annotations
    (each named in `problems`); reads only the headers."""
    kept = []
    for index, sample in enumerate(data.samples, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            height, width = image_size(sample.path)
        except ImageLoadError as exc:
            data.problems.append(f"{sample.path}: {exc.reason}")
            continue
        finally:
            if progress is not None:
                progress(Progress(index, len(data.samples), "checking images"))
        if (height, width) != tuple(sample.size):
            data.problems.append(f"{sample.path}: the image is {width}x{height} px but annotated as "
                                 f"{sample.size[1]}x{sample.size[0]}")
            continue
        kept.append(sample)
    data.samples = kept
    return data


def split(samples: list[DetectionSample], val_fraction: float, seed: int = 0):
    """(train, validation): a seeded shuffle by image; at least one image on each side when
    `val_fraction` > 0 and there are two or more images."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"the validation fraction must be at least 0 and below 1, got {val_fraction}")
    order = list(samples)
    random.Random(seed).shuffle(order)
    count = int(round(len(order) * val_fraction))
    if val_fraction > 0 and len(order) >= 2:
        count = min(max(count, 1), len(order) - 1)
    return order[count:], order[:count]
