"""Detector: a batch of RGB images in, one `Detections` per image out, in original pixels.

Masks never exist as full-resolution float arrays: the transform's post-processing is
replaced so each 28x28 mask is pasted only into its own box (`CroppedMask`). Results are kept
down to a score floor of 0.05, so front ends re-filter without running the model again.
"""

from __future__ import annotations

import time
import types
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torchvision.models.detection.transform import resize_boxes, resize_keypoints

from engine import devices, limits, models
from engine.persons import merge_persons
from engine.types import CroppedMask, Detections

SCORE_FLOOR = 0.05
OOM_RETRY_SCALE = 0.75  # a CUDA out-of-memory image is retried once at this fraction of its size


def _postprocess_small_masks(self, result, image_shapes, original_image_sizes):
    """GeneralizedRCNNTransform.postprocess without pasting masks at full resolution."""
    if self.training:
        return result
    for pred, im_s, o_im_s in zip(result, image_shapes, original_image_sizes):
        pred["boxes"] = resize_boxes(pred["boxes"], im_s, o_im_s)
        if "keypoints" in pred:
            pred["keypoints"] = resize_keypoints(pred["keypoints"], im_s, o_im_s)
    return result


def paste_mask(probabilities: np.ndarray, box: np.ndarray, height: int, width: int) -> CroppedMask:
    """A model's small square mask (M x M probabilities) pasted into its box, thresholded at 0.5."""
    m = probabilities.shape[0]
    padded = np.pad(probabilities.astype(np.float32), 1)
    scale = (m + 2) / m
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w, half_h = (box[2] - box[0]) * scale / 2, (box[3] - box[1]) * scale / 2
    x0, y0 = int(np.floor(cx - half_w)), int(np.floor(cy - half_h))
    x1, y1 = int(np.ceil(cx + half_w)), int(np.ceil(cy + half_h))
    resized = cv2.resize(padded, (max(x1 - x0, 1), max(y1 - y0, 1)), interpolation=cv2.INTER_LINEAR) > 0.5
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return CroppedMask(0, 0, np.zeros((0, 0), bool))
    return CroppedMask(cx0, cy0, resized[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0])


class Detector:
    """Runs one registry model (or a weights file that fits one) on a device.

    `size` is the inference shorter side in pixels (None: the model's own); smaller is faster
    and less accurate. `batch_size` images go through the model together (1 on the CPU).
    `random_weights` builds the architecture without loading weights (for timing only).
    `channels_last` (None: on the CPU only) keeps convolutions in NHWC memory order.
    """

    def __init__(
        self,
        model: Union[str, Path] = models.DEMO_MODEL,
        device: str = "auto",
        size: Optional[int] = None,
        batch_size: Optional[int] = None,
        random_weights: bool = False,
        channels_last: Optional[bool] = None,
    ):
        self.device = devices.resolve_device(device)
        self.spec, weights_file = self._resolve(model)
        self.name = self.spec.name if weights_file is None else Path(weights_file).name
        parts = self.spec.parts or (self.spec.name,)
        load = (lambda p: models.get_spec(p).build().eval()) if random_weights else (
            lambda p: models.load_model(p, weights_file))
        self._models = [self._prepare(load(p)) for p in parts]
        self.size = size
        self._apply_size(size)
        self.batch_size = batch_size or (4 if self.device.type == "cuda" else 1)
        self.class_names = self.spec.categories
        self.device_info = devices.describe(self.device)
        self.autocast = True  # float16 autocast on CUDA (a no-op elsewhere)
        self.set_channels_last(self.device.type == "cpu" if channels_last is None else channels_last)
        self.score_floor = SCORE_FLOOR

    @staticmethod
    def _resolve(model: Union[str, Path]):
        text = str(model)
        if text in models.REGISTRY:
            return models.get_spec(text), None
        from engine.detector_files import find_spec

        fine_tuned = find_spec(text)  # a file written by `sightline train-detector`
        if fine_tuned is not None:
            return fine_tuned, None
        path = Path(text)
        if path.suffix.lower() in (".pt", ".pth") or path.exists():
            from engine.weights import load_state_dict_file

            state = load_state_dict_file(path)
            return models.get_spec(models.match_state_dict(state)), path
        raise models.UnknownModel(text)

    def _prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        model.transform.postprocess = types.MethodType(_postprocess_small_masks, model.transform)
        model.roi_heads.score_thresh = SCORE_FLOOR
        return model.to(self.device).eval()

    def _apply_size(self, size: Optional[int]) -> None:
        for model in self._models:
            transform = model.transform
            if not hasattr(transform, "default_sizes"):
                transform.default_sizes = (transform.min_size, transform.max_size)
            if size is None:
                transform.min_size, transform.max_size = transform.default_sizes
            else:
                transform.min_size, transform.max_size = (int(size),), int(round(size * 1333 / 800))
            if hasattr(transform, "native"):
                transform.native = size is None

    def set_channels_last(self, on: bool) -> None:
        """Convolution weights, and so the activations after them, in NHWC order: on the CPU
        the same network runs faster so (see the README's ratio table); the results are the
        same up to float rounding."""
        layout = torch.channels_last if on else torch.contiguous_format
        for model in self._models:
            model.to(memory_format=layout)
        self.channels_last = on

    def set_score_floor(self, score: float) -> None:
        """Boxes scoring under `score` are dropped before the mask and keypoint heads, which
        cost per box; what is kept is the same as filtering the results afterwards (NMS only
        lets a higher score suppress a box). A run that keeps only scores >= X (`detect
        --score X`) sets X; the window keeps SCORE_FLOOR, so its score filter can go low.
        A two-part model (`persons`) pairs boxes across its parts and keeps SCORE_FLOOR."""
        floor = SCORE_FLOOR if self.spec.parts else max(SCORE_FLOOR, float(score))
        for model in self._models:
            model.roi_heads.score_thresh = floor
        self.score_floor = floor

    @property
    def outputs(self) -> frozenset:
        return self.spec.outputs

    @property
    def networks(self) -> tuple[torch.nn.Module, ...]:
        """The torch model(s) this detector runs, in eval mode (read by explanations)."""
        return tuple(self._models)

    def to_tensors(self, images: Sequence[np.ndarray]) -> list[torch.Tensor]:
        usable = [im if im.flags.writeable and im.flags.c_contiguous else np.array(im) for im in images]
        return [torch.from_numpy(im).to(self.device).permute(2, 0, 1).float().div_(255) for im in usable]

    def forward(self, tensors: list[torch.Tensor]) -> list[list[dict]]:
        """The bare torchvision call(s): one list of output dicts per part model."""
        with torch.inference_mode(), devices.autocast_context(self.device, self.autocast):
            return [model(tensors) for model in self._models]

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """One Detections per image. An image that runs out of GPU memory even after a retry
        at a smaller size comes back empty with `failure` saying so; the others carry on."""
        results: list[Detections] = []
        for start in range(0, len(images), self.batch_size):
            results.extend(self._predict_batch(images[start : start + self.batch_size]))
        return results

    def _predict_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        free = devices.free_memory_bytes(self.device)  # estimated before the call: a message, not swapping
        too_large = [limits.inference_too_large(self._models[0].transform, *im.shape[:2], free) for im in images]
        if any(too_large):  # reported as failed without running the model; the others run
            return [Detections.empty(im.shape[:2], self.class_names, model_name=self.name, failure=why) if why
                    else self._predict_batch([im])[0] for im, why in zip(images, too_large)]
        try:
            return self._run(images)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
            if not devices.is_out_of_memory(exc):
                raise
            devices.free_cached_memory(self.device)
        if len(images) > 1:
            return [d for im in images for d in self._predict_batch([im])]
        return [self._retry_smaller(images[0])]

    def inference_side(self, shape: tuple[int, ...]) -> int:
        """The shorter side, in pixels, an image of this (height, width) is resized to for the
        model (`engine.limits.model_input_size`)."""
        return min(limits.model_input_size(self._models[0].transform, *shape[:2]))

    def _retry_smaller(self, image: np.ndarray) -> Detections:
        smaller = max(64, int(self.inference_side(image.shape) * OOM_RETRY_SCALE))
        self._apply_size(smaller)
        try:
            return self._run([image])[0]
        except Exception as exc:  # noqa: BLE001
            if not devices.is_out_of_memory(exc):
                raise
            devices.free_cached_memory(self.device)
            where = "GPU memory" if self.device.type == "cuda" else "memory"
            reason = f"out of {where} on {self.device}, even at {smaller} px; try a smaller --size"
            return Detections.empty(image.shape[:2], self.class_names, model_name=self.name, failure=reason)
        finally:
            self._apply_size(self.size)

    def _run(self, images: Sequence[np.ndarray]) -> list[Detections]:
        began = time.perf_counter()
        working = [self.working_copy(im) for im in images]
        outputs = self.forward(self.to_tensors(working))
        seconds = (time.perf_counter() - began) / max(1, len(images))
        if self.spec.parts:
            per_image = [merge_persons(m, k) for m, k in zip(*outputs)]
        else:
            per_image = outputs[0]
        return [self._to_detections(o, im.shape[:2], small.shape[:2], seconds)
                for o, im, small in zip(per_image, images, working)]

    def working_copy(self, image: np.ndarray) -> np.ndarray:
        """The image at the size the model will see it, shrunk here (area averaging, no full-size
        float copy) when that is smaller than the image; else the image itself."""
        height, width = image.shape[:2]
        in_height, in_width = limits.model_input_size(self._models[0].transform, height, width)
        if in_height >= height or in_width >= width:
            return image
        return cv2.resize(image, (in_width, in_height), interpolation=cv2.INTER_AREA)

    def _to_detections(self, output: dict, size: tuple[int, int], working: tuple[int, int],
                       seconds: float) -> Detections:
        """One image's output, in the pixels of the original image (`size`) when the model
        saw a shrunk copy (`working`)."""
        height, width = size
        sx, sy = width / working[1], height / working[0]
        boxes = output["boxes"].float().cpu().numpy() * np.array([sx, sy, sx, sy], np.float32)
        boxes = np.clip(boxes, 0, [width, height, width, height])
        masks = None
        if "masks" in output:
            probs = output["masks"].float().cpu().numpy()[:, 0]
            masks = tuple(paste_mask(p, b, height, width) for p, b in zip(probs, boxes))
        keypoints = None
        if "keypoints" in output:
            keypoints = output["keypoints"].float().cpu().numpy().copy()
            keypoints[:, :, 0] *= sx
            keypoints[:, :, 1] *= sy
            keypoints[:, :, 2] = output["keypoints_scores"].float().cpu().numpy()
        return Detections(
            image_size=(height, width),
            boxes=boxes.astype(np.float32),
            scores=output["scores"].float().cpu().numpy().astype(np.float32),
            labels=output["labels"].cpu().numpy().astype(np.int64),
            class_names=self.class_names,
            masks=masks,
            keypoints=keypoints,
            keypoint_names=self.spec.keypoint_names if keypoints is not None else (),
            skeleton=self.spec.skeleton if keypoints is not None else (),
            model_name=self.name,
            inference_seconds=seconds,
            analysed_size=limits.model_input_size(self._models[0].transform, *working),
        )
