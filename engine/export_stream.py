"""COCO JSON and CSV written one image at a time, for result sets too large to hold at once.

The files are the same as `engine.export.write_coco` / `write_csv` write (same entries, ids
numbered from 1 in the order given), built from the same per-image pieces; each is written
to a temporary file in its folder and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional

from engine.export import CSV_COLUMNS, ExportItem, coco_categories, coco_document, csv_rows, keypoint_columns
from engine.types import Detections


@contextlib.contextmanager
def atomic_text(path: Optional[Path]) -> Iterator:
    """A text file handle on a temporary file beside `path`, renamed to `path` on success
    (removed on failure). With `path` None, yields None."""
    if path is None:
        yield None
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_streamed(items: Iterable[ExportItem], coco_path: Optional[Path], csv_path: Optional[Path],
                   model_name: str = "", categories_from: Optional[Detections] = None) -> tuple[int, int]:
    """Write COCO and/or CSV from `items`, reading each item once; returns (images, detections)."""
    info = coco_document([], model_name)["info"]
    categories = coco_categories(categories_from) if categories_from is not None else []
    images = detections = 0
    with atomic_text(coco_path) as coco, atomic_text(csv_path) as table, \
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=coco_path.parent if coco_path else None) as annotations:
        points = keypoint_columns(categories_from.keypoint_names) if categories_from is not None else []
        writer = csv.DictWriter(table, fieldnames=list(CSV_COLUMNS) + points, extrasaction="ignore") if table else None
        if writer:
            writer.writeheader()
        if coco:
            coco.write('{"info":' + json.dumps(info) + ',"images":[')
        for item in items:
            images += 1
            if writer:
                writer.writerows(csv_rows(item))
            if coco:
                piece = coco_document([item])
                image = dict(piece["images"][0], id=images)
                coco.write(("," if images > 1 else "") + json.dumps(image, separators=(",", ":")))
                for ann in piece["annotations"]:
                    detections += 1
                    ann.update(id=detections, image_id=images)
                    annotations.write(("," if detections > 1 else "") + json.dumps(ann, separators=(",", ":")))
            else:
                detections += len(item.detections)
        if coco:
            coco.write('],"categories":' + json.dumps(categories, separators=(",", ":")) + ',"annotations":[')
            annotations.seek(0)
            shutil.copyfileobj(annotations, coco)
            coco.write("]}")
    return images, detections
