"""Held-out evaluation of a detector with pycocotools' COCOeval: box AP at IoU 0.5 over all
classes and per class (and mask AP at IoU 0.5 when the data has masks)."""

from __future__ import annotations

import contextlib
import io
import types
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn

from engine.detect import _postprocess_small_masks, paste_mask
from engine.devices import autocast_context
from engine.export import rle_encode
from engine.images import load_image
from engine.train.detection_data import DetectionSample


@dataclass(frozen=True)
class DetectionScores:
    images: int
    box_ap50: float
    box_ap: float  # AP averaged over IoU 0.5:0.95
    per_class_ap50: dict = field(default_factory=dict)  # class name -> AP50 (classes with objects)
    mask_ap50: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        classes = ", ".join(f"{k} {v:.3f}" for k, v in self.per_class_ap50.items())
        mask = "" if self.mask_ap50 is None else f", mask AP50 {self.mask_ap50:.3f}"
        return f"box AP50 {self.box_ap50:.3f} (AP {self.box_ap:.3f}){mask} on {self.images} images; per class: {classes}"


def _truth(samples: Sequence[DetectionSample], class_names: Sequence[str], with_masks: bool) -> COCO:
    index = {name: i for i, name in enumerate(class_names)}
    images, annotations = [], []
    for image_id, sample in enumerate(samples, start=1):
        height, width = sample.size
        images.append({"id": image_id, "file_name": str(sample.path), "height": height, "width": width})
        for instance in sample.instances:
            x1, y1, x2, y2 = (float(v) for v in instance.box)
            entry = {"id": len(annotations) + 1, "image_id": image_id, "category_id": index[instance.label],
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0,
                     "area": float(instance.mask.area if with_masks else (x2 - x1) * (y2 - y1))}
            if with_masks:
                entry["segmentation"] = rle_encode(instance.mask, height, width)
            annotations.append(entry)
    categories = [{"id": i, "name": n} for i, n in enumerate(class_names) if i > 0]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _results(output: dict, image_id: int, size: tuple[int, int], with_masks: bool) -> list[dict]:
    boxes = output["boxes"].float().cpu().numpy()
    scores, labels = output["scores"].float().cpu().numpy(), output["labels"].cpu().numpy()
    masks = output["masks"].float().cpu().numpy()[:, 0] if with_masks and "masks" in output else None
    found = []
    for k, (box, score, label) in enumerate(zip(boxes, scores, labels)):
        entry = {"image_id": image_id, "category_id": int(label), "score": float(score),
                 "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]}
        if masks is not None:
            entry["segmentation"] = rle_encode(paste_mask(masks[k], box, *size), *size)
        found.append(entry)
    return found


def _run(truth: COCO, results: list[dict], kind: str) -> COCOeval | None:
    if not results:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(results), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def _per_class(evaluation: COCOeval | None, truth: COCO, class_names: Sequence[str]) -> dict:
    present = sorted({a["category_id"] for a in truth.dataset["annotations"]})
    if evaluation is None:
        return {class_names[c]: 0.0 for c in present}
    precision = evaluation.eval["precision"]  # [IoU, recall, class, area, max detections]
    order = list(evaluation.params.catIds)
    scores = {}
    for c in present:
        curve = precision[0, :, order.index(c), 0, -1]
        scores[class_names[c]] = float(curve[curve > -1].mean()) if (curve > -1).any() else 0.0
    return scores


def _stat(evaluation: COCOeval | None, index: int) -> float:
    return max(0.0, float(evaluation.stats[index])) if evaluation is not None else 0.0


def evaluate_detector(model: nn.Module, samples: Sequence[DetectionSample], class_names: Sequence[str],
                      device: torch.device, with_masks: bool, amp: bool = True, step=None) -> DetectionScores:
    """Run `model` (eval mode, no gradients) over `samples` and score it against their objects.
    `step()` is called after each image (progress and cancellation)."""
    was_training = model.training
    model.eval()
    model.transform.postprocess = types.MethodType(_postprocess_small_masks, model.transform)
    results: list[dict] = []
    try:
        with torch.inference_mode():
            for image_id, sample in enumerate(samples, start=1):
                image = load_image(sample.path)
                tensor = torch.from_numpy(image).permute(2, 0, 1).float().div_(255).to(device)
                with autocast_context(device, amp):
                    output = model([tensor])[0]
                results += _results(output, image_id, image.shape[:2], with_masks)
                if step is not None:
                    step()
    finally:
        del model.transform.postprocess  # back to the class's own
        model.train(was_training)
    truth = _truth(samples, class_names, with_masks)
    boxes = _run(truth, results, "bbox")
    masks = _run(truth, results, "segm") if with_masks else None
    return DetectionScores(len(samples), _stat(boxes, 1), _stat(boxes, 0), _per_class(boxes, truth, class_names),
                           _stat(masks, 1) if with_masks else None)
