"""How good the demo detector is, on fresh scenes it never saw in training.

    python -m engine.demo.evaluate --scenes 200

Box AP@0.5 and mask AP@0.5 come from pycocotools' COCOeval. Keypoints: each true shape is
matched to the best-overlapping detection of its class (box IoU >= 0.5, score >= 0.5), and
the share of its four keypoints that land within 4 px of the truth is counted (a shape with no
match counts all four as missed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from engine.demo.scenes import CLASS_NAMES, make_scene
from engine.export import ExportItem, coco_document

EVAL_SEED_BASE = 0  # evaluation scenes use seeds 0..N-1; training starts at 1,000,000
# the regression test's scenes: 100,000 up, outside evaluation (any N below 100,000) and training
REGRESSION_SEED_BASE = 100_000
KEYPOINT_TOLERANCE_PX = 4.0
MATCH_SCORE = 0.5


@dataclass(frozen=True)
class DemoQuality:
    scenes: int
    box_ap50: float
    mask_ap50: float
    keypoints_within_4px: float
    seconds_per_image: float

    def __str__(self) -> str:
        return (f"{self.scenes} scenes: box AP@0.5 {self.box_ap50:.3f}, mask AP@0.5 {self.mask_ap50:.3f}, "
                f"keypoints within 4 px {self.keypoints_within_4px:.1%}, {self.seconds_per_image:.3f} s/image")


def ground_truth_coco(scenes) -> COCO:
    images, annotations = [], []
    for image_id, scene in enumerate(scenes, start=1):
        height, width = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": f"scene-{image_id}", "width": width, "height": height})
        for shape in scene.shapes:
            x1, y1, x2, y2 = shape.box.tolist()
            rle = mask_utils.encode(np.asfortranarray(shape.mask.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": shape.label + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": int(shape.mask.sum()),
                                "segmentation": rle, "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(CLASS_NAMES)]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _ap50(truth: COCO, results: list[dict], kind: str) -> float:
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(results), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[1])  # AP at IoU 0.5


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0]); y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2]); y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter + 1e-9)


def keypoint_hits(scene, det) -> tuple[int, int]:
    """(keypoints within tolerance, keypoints in total) for one scene."""
    hits = total = 0
    confident = det.filter(min_score=MATCH_SCORE)
    for shape in scene.shapes:
        total += len(shape.keypoints)
        same = confident.labels == shape.label + 1
        if confident.keypoints is None or not same.any():
            continue
        ious = np.where(same, _box_iou(shape.box, confident.boxes), 0.0)
        best = int(np.argmax(ious))
        if ious[best] < 0.5:
            continue
        error = np.linalg.norm(confident.keypoints[best, :, :2] - shape.keypoints[:, :2], axis=1)
        hits += int((error <= KEYPOINT_TOLERANCE_PX).sum())
    return hits, total


def evaluate_demo(detector, scenes: int = 200, seed_base: int = EVAL_SEED_BASE) -> DemoQuality:
    """Run `detector` (an engine Detector) on fresh scenes and measure it against the truth."""
    made = [make_scene(seed_base + i) for i in range(scenes)]
    began = time.perf_counter()
    detections = [detector.predict([scene.image])[0] for scene in made]
    seconds = (time.perf_counter() - began) / max(1, scenes)
    document = coco_document(ExportItem(f"scene-{i + 1}", d) for i, d in enumerate(detections))
    results = [dict(a, image_id=a["image_id"]) for a in document["annotations"]]
    truth = ground_truth_coco(made)
    hits = total = 0
    for scene, det in zip(made, detections):
        h, t = keypoint_hits(scene, det)
        hits, total = hits + h, total + t
    return DemoQuality(scenes, _ap50(truth, results, "bbox"), _ap50(truth, results, "segm"),
                       hits / max(1, total), seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--weights", default=None, help="a demo weights file (default: the bundled one)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    from engine.detect import Detector

    detector = Detector(args.weights or "demo-shapes", device=args.device)
    print(evaluate_demo(detector, args.scenes))


if __name__ == "__main__":
    main()
