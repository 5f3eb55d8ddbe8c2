"""Writing results out: COCO JSON (loads with pycocotools), CSV, all written atomically.

A file is written to a temporary name in the destination folder and renamed into place, so a
crash never leaves half a file and an existing file is replaced whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from engine.review.vocabulary import NON_CATEGORIES
from engine.types import CroppedMask, Detections

_UMASK = os.umask(0)
os.umask(_UMASK)
__all__ = ["NON_CATEGORIES", "ExportItem", "write_bytes_atomic", "write_text_atomic", "write_coco", "write_csv"]


@dataclass
class ExportItem:
    """One image (or video frame) and its detections, already filtered to what is exported.

    `annotation_extras[i]` is merged into the i-th detection's annotation (e.g. review state);
    `image_extras` into the image entry (e.g. frame index and time).
    """

    file_name: str
    detections: Detections
    image_extras: dict = field(default_factory=dict)
    annotation_extras: Optional[Sequence[dict]] = None


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it owner-only; use the usual mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def rle_encode(mask: CroppedMask, height: int, width: int) -> dict:
    """COCO compressed RLE of a cropped mask in its full image, without a full-size array."""
    h, w = mask.bitmap.shape
    if mask.area == 0:
        counts = [height * width]
    else:
        columns = np.zeros((w, height), np.uint8)  # column-major strip of the mask's columns
        columns[:, mask.y0 : mask.y0 + h] = mask.bitmap.T
        flat = columns.ravel()
        changes = np.flatnonzero(np.diff(flat)) + 1
        edges = np.concatenate([[0], changes, [flat.size]])
        runs = np.diff(edges).tolist()
        if flat[0]:  # RLE starts with a run of zeros
            runs.insert(0, 0)
        runs[0] += mask.x0 * height
        trailing = (width - mask.x0 - w) * height
        if flat[-1]:
            if trailing:
                runs.append(trailing)
        else:
            runs[-1] += trailing
        counts = runs
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def coco_categories(detections: Detections) -> list[dict]:
    categories = []
    for index, name in enumerate(detections.class_names):
        if index == 0 or name in NON_CATEGORIES:
            continue
        entry: dict[str, Any] = {"id": index, "name": name, "supercategory": ""}
        if detections.keypoint_names:
            entry["keypoints"] = list(detections.keypoint_names)
            entry["skeleton"] = [[a + 1, b + 1] for a, b in detections.skeleton]  # COCO: 1-based
        categories.append(entry)
    return categories


def _annotation(det: Detections, i: int, image_id: int, ann_id: int) -> dict:
    x1, y1, x2, y2 = (float(v) for v in det.boxes[i])
    height, width = det.image_size
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": int(det.labels[i]),
        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
        "area": round((x2 - x1) * (y2 - y1), 2),
        "score": round(float(det.scores[i]), 5),
        "iscrowd": 0,
    }
    if det.masks is not None:
        ann["segmentation"] = rle_encode(det.masks[i], height, width)
        ann["area"] = det.masks[i].area
    if det.keypoints is not None:
        points = det.keypoints[i]
        visible = points[:, 2] > 0
        flat = np.zeros((len(points), 3), np.float64)
        flat[:, :2] = np.where(visible[:, None], points[:, :2], 0)
        flat[:, 2] = np.where(visible, 2, 0)
        ann["keypoints"] = [round(float(v), 2) for v in flat.ravel()]
        ann["num_keypoints"] = int(visible.sum())
    return ann


def coco_document(items: Iterable[ExportItem], model_name: str = "", categories_from: Optional[Detections] = None) -> dict:
    """A COCO results document: images, categories, annotations (with scores)."""
    items = list(items)
    images, annotations = [], []
    for image_id, item in enumerate(items, start=1):
        height, width = item.detections.image_size
        images.append({"id": image_id, "file_name": item.file_name, "width": width, "height": height, **item.image_extras})
        for i in range(len(item.detections)):
            ann = _annotation(item.detections, i, image_id, len(annotations) + 1)
            if item.annotation_extras is not None:
                ann.update(item.annotation_extras[i])
            annotations.append(ann)
    reference = categories_from if categories_from is not None else (items[0].detections if items else None)
    return {
        "info": {
            "description": f"Sightline detections ({model_name})" if model_name else "Sightline detections",
            "date_created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "images": images,
        "categories": coco_categories(reference) if reference is not None else [],
        "annotations": annotations,
    }


def write_coco(path: str | os.PathLike, items: Iterable[ExportItem], model_name: str = "", categories_from: Optional[Detections] = None) -> Path:
    document = coco_document(items, model_name, categories_from)
    return write_text_atomic(path, json.dumps(document, separators=(",", ":")))


CSV_COLUMNS = ("file", "detection", "class", "score", "x1", "y1", "x2", "y2", "mask_area", "num_keypoints")


def csv_rows(item: ExportItem) -> Iterable[dict]:
    det = item.detections
    for i in range(len(det)):
        row = {"file": item.file_name, "detection": i, "class": det.class_names[det.labels[i]],
               "score": f"{det.scores[i]:.4f}"}
        row.update({k: f"{v:.1f}" for k, v in zip(("x1", "y1", "x2", "y2"), det.boxes[i])})
        row["mask_area"] = det.masks[i].area if det.masks is not None else ""
        row["num_keypoints"] = int((det.keypoints[i][:, 2] > 0).sum()) if det.keypoints is not None else ""
        row.update(_keypoint_columns(det, i))
        row.update(item.image_extras)
        if item.annotation_extras is not None:
            row.update(item.annotation_extras[i])
        yield row


def keypoint_columns(names: Sequence[str]) -> list[str]:
    """The CSV columns of keypoints with these names: `<name>_x`, `<name>_y`, `<name>_score`."""
    return [f"{name}_{part}" for name in names for part in ("x", "y", "score")]


def _keypoint_columns(det: Detections, i: int) -> dict:
    """Every keypoint's x, y and score (the model's; num_keypoints counts those above 0, COCO's
    visible ones), in the model's order."""
    if det.keypoints is None:
        return {}
    names = det.keypoint_names or tuple(f"kp{k}" for k in range(det.keypoints.shape[1]))
    values = [f"{v:.1f}" if part < 2 else f"{v:.3f}" for point in det.keypoints[i].tolist()
              for part, v in enumerate(point)]
    return dict(zip(keypoint_columns(names), values))


def write_csv(path: str | os.PathLike, items: Iterable[ExportItem]) -> Path:
    """One row per detection; extra image/annotation fields become extra columns."""
    rows = [row for item in items for row in csv_rows(item)]
    extra = []
    for row in rows:  # in first-seen order: keypoint columns stay in the model's order
        extra.extend(k for k in row if k not in CSV_COLUMNS and k not in extra)
    columns = list(CSV_COLUMNS) + extra
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())
