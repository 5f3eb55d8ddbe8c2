"""A folder of synthetic demo scenes with a COCO instances file (RLE masks, four keypoints):
data to fine-tune and evaluate detectors on, for the detector benchmark and the tests.

    python -m engine.demo.scene_folder OUT --first-seed 2000000 --count 80 --classes 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from engine.demo.scenes import (
    EXTENDED_CLASS_NAMES,
    KEYPOINT_NAMES,
    SKELETON,
    make_scene,
)
from engine.export import rle_encode, write_bytes_atomic, write_text_atomic
from engine.types import CroppedMask


def _annotation(shape, image_id: int, annotation_id: int, height: int, width: int) -> dict:
    x1, y1, x2, y2 = (float(v) for v in shape.box)
    points = [float(v) for point in shape.keypoints for v in (point[0], point[1], 2)]
    return {"id": annotation_id, "image_id": image_id, "category_id": shape.label + 1, "iscrowd": 0,
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": int(shape.mask.sum()),
            "segmentation": rle_encode(CroppedMask.from_full(shape.mask), height, width),
            "keypoints": points, "num_keypoints": len(shape.keypoints)}


def write_scene_folder(folder: str | Path, seeds, classes: int = 4, json_name: str = "annotations.json") -> Path:
    """Write one PNG per seed (`scene-<seed>.png`) and a COCO file naming them relative to
    `folder`; returns the JSON's path. Categories: the first `classes` of EXTENDED_CLASS_NAMES."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id, seed in enumerate(seeds, start=1):
        scene = make_scene(int(seed), classes)
        height, width = scene.image.shape[:2]
        name = f"scene-{seed}.png"
        ok, png = cv2.imencode(".png", np.ascontiguousarray(scene.image[:, :, ::-1]))
        if not ok:
            raise OSError(f"cannot encode {name}")
        write_bytes_atomic(folder / name, png.tobytes())
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for shape in scene.shapes:
            annotations.append(_annotation(shape, image_id, len(annotations) + 1, height, width))
    categories = [{"id": i + 1, "name": n, "supercategory": "shape", "keypoints": list(KEYPOINT_NAMES),
                   "skeleton": [[a + 1, b + 1] for a, b in SKELETON]} for i, n in enumerate(EXTENDED_CLASS_NAMES[:classes])]
    document = {"images": images, "annotations": annotations, "categories": categories}
    return write_text_atomic(folder / json_name, json.dumps(document))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--first-seed", type=int, default=2_000_000)
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--classes", type=int, default=4, choices=(3, 4))
    args = parser.parse_args(argv)
    path = write_scene_folder(args.out, range(args.first_seed, args.first_seed + args.count), args.classes)
    print(f"wrote {args.count} scenes and {path}")


if __name__ == "__main__":
    main()
