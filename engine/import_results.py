"""A COCO results file read into the review store, so the review goes on without a model run.

Reads what `sightline detect --out` writes (on this machine or on a cluster) and what the
window exports: boxes, scores, RLE masks, keypoints; with the window's extras also each
detection's review state (accepted, rejected, relabelled) and the image's reviewed mark.
Each image becomes the stored result of one model (the one the file names, or `model`), so
opening the same images in the window with that model shows them at once.

`file_name` is used as written when absolute; a relative one is looked up under `root`, the
current folder, then the COCO file's folder. Images that cannot be found are named and
skipped; the others are imported. Only what is in the file is imported: detections below
the score the file was written with are not there to show.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from pycocotools import mask as mask_utils

from engine.models import REGISTRY, get_spec
from engine.review.vocabulary import Vocabulary
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore, StoreError
from engine.types import CancelToken, CroppedMask, Detections, ImageFailure, Progress, ProgressCallback

_MODEL_IN_DESCRIPTION = re.compile(r"Sightline detections \((.+)\)$")


class ResultsFileError(Exception):
    """The results file cannot be read as COCO results; str() names it and says why."""


@dataclass
class ImportReport:
    model: str = ""
    images: int = 0
    detections: int = 0
    failures: list[ImageFailure] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # each imported image or video once, in file order


def read_document(path: str | os.PathLike) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ResultsFileError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise ResultsFileError(f"{path}: not a COCO file (no 'images' list)")
    return document


def model_named_in(document: dict) -> str:
    """The model a Sightline COCO file says made it, or ''."""
    match = _MODEL_IN_DESCRIPTION.match(str(document.get("info", {}).get("description", "")))
    return match.group(1) if match else ""


def vocabulary_for(model: str, categories: list[dict]) -> Vocabulary:
    """The model's own class list when it is a registry model, else one built from the
    categories (class index = category id, as Sightline writes them)."""
    if model in REGISTRY:
        spec = get_spec(model)
        return Vocabulary(tuple(spec.categories), tuple(spec.keypoint_names), tuple(spec.skeleton))
    size = max((int(c["id"]) for c in categories), default=0) + 1
    classes = ["N/A"] * size
    classes[0] = "__background__"
    for category in categories:
        classes[int(category["id"])] = str(category["name"])
    with_points = next((c for c in categories if c.get("keypoints")), {})
    skeleton = tuple((a - 1, b - 1) for a, b in with_points.get("skeleton", []))
    return Vocabulary(tuple(classes), tuple(with_points.get("keypoints", [])), skeleton)


def _mask(annotation: dict, height: int, width: int) -> CroppedMask:
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list):  # polygons
        segmentation = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        segmentation = mask_utils.frPyObjects(segmentation, height, width)
    return CroppedMask.from_full(mask_utils.decode(segmentation).astype(bool))


def detections_of(image: dict, annotations: list[dict], vocabulary: Vocabulary, model: str) -> Detections:
    """One image entry and its annotations as Detections (labels: the model's original classes)."""
    height, width = int(image["height"]), int(image["width"])
    boxes = np.array([a["bbox"] for a in annotations], np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    labels = np.array([a.get("original_category_id", a["category_id"]) for a in annotations], np.int64)
    if len(labels) and (labels.min() < 1 or labels.max() >= len(vocabulary.classes)):
        raise ValueError(f"a category id outside the classes of {model}")
    masks = None
    if all("segmentation" in a for a in annotations):
        masks = tuple(_mask(a, height, width) for a in annotations)
    keypoints = None
    if vocabulary.keypoint_names and all("keypoints" in a for a in annotations):
        shape = (len(annotations), len(vocabulary.keypoint_names), 3)
        keypoints = np.array([a["keypoints"] for a in annotations], np.float32).reshape(shape)
        keypoints[:, :, 2] = (keypoints[:, :, 2] > 0).astype(np.float32)
    return Detections(
        image_size=(height, width), boxes=boxes, labels=labels,
        scores=np.array([a.get("score", 1.0) for a in annotations], np.float32),
        class_names=vocabulary.classes, masks=masks, keypoints=keypoints,
        keypoint_names=vocabulary.keypoint_names if keypoints is not None else (),
        skeleton=vocabulary.skeleton if keypoints is not None else (), model_name=model)


def decisions_of(annotations: list[dict]) -> dict[int, Decision]:
    """Review states exported by the window, by detection index in the imported result."""
    decisions = {}
    for index, annotation in enumerate(annotations):
        state = annotation.get("review_state")
        if state == RELABELLED:
            decisions[index] = Decision(RELABELLED, int(annotation["category_id"]))
        elif state in (ACCEPTED, REJECTED):
            decisions[index] = Decision(state)
    return decisions


def find_image(file_name: str, places: list[Path]) -> Optional[Path]:
    path = Path(file_name)
    if path.is_absolute():
        return path if path.is_file() else None
    return next((place / path for place in places if (place / path).is_file()), None)


def import_results(coco_path: str | os.PathLike, store: ReviewStore, model: Optional[str] = None,
                   root: Optional[str | os.PathLike] = None, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> ImportReport:
    """Store every image of a COCO results file as a result of `model` (default: the model
    the file names). Raises ResultsFileError when no model is known or the file is unusable."""
    document = read_document(coco_path)
    model = model or model_named_in(document)
    if not model:
        raise ResultsFileError(f"{coco_path}: the file does not say which model made it; name one (--model)")
    vocabulary = vocabulary_for(model, document.get("categories", []))
    by_image = defaultdict(list)
    for annotation in document.get("annotations", []):
        by_image[annotation["image_id"]].append(annotation)
    places = [Path(p) for p in (root, os.getcwd(), Path(coco_path).resolve().parent) if p is not None]
    report = ImportReport(model=model)
    total = len(document["images"])
    for done, image in enumerate(document["images"], start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        _import_image(image, by_image.get(image.get("id"), []), vocabulary, model, places, store, report)
        if progress is not None:
            progress(Progress(done, total, f"{report.images} imported"))
    return report


def _import_image(image: dict, annotations: list[dict], vocabulary: Vocabulary, model: str, places: list[Path],
                  store: ReviewStore, report: ImportReport) -> None:
    name = str(image.get("file_name", ""))
    path = find_image(name, places)
    if path is None:
        report.failures.append(ImageFailure(name, "image not found (looked in " + ", ".join(map(str, places)) + ")"))
        return
    try:
        detections = detections_of(image, annotations, vocabulary, model)
        frame = image.get("frame_index")
        result_id = store.save_result(path, model, detections, frame=None if frame is None else int(frame))
        for index, decision in decisions_of(annotations).items():
            store.set_decision(result_id, index, decision)
        if image.get("reviewed"):
            store.set_reviewed(result_id)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        report.failures.append(ImageFailure(name, f"entry cannot be read: {exc!r}"))
        return
    except StoreError as exc:
        report.failures.append(ImageFailure(name, str(exc)))
        return
    report.images += 1
    report.detections += len(detections)
    if not report.paths or report.paths[-1] != str(path):
        report.paths.append(str(path))
