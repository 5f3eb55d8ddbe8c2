"""Classifier: RGB images (or crops of them, e.g. detections) in, top-k labels with
probabilities out, from a classifier file trained by `engine.train`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from engine.devices import autocast_context, describe, resolve_device
from engine.images import load_image
from engine.train import strategies
from engine.train.checkpoint import (
    MODEL_SUFFIX,
    CheckpointError,
    ClassifierCheckpoint,
    NotAClassifier,
    load_classifier_file,
    read_metadata,
)
from engine.train.transforms import eval_transform, shrink, to_image_tensor
from engine.video_io import VideoError, VideoReader
from engine.weights import user_models_dir

Prediction = list[tuple[str, float]]  # (label, probability), most probable first
CROP_PADDING = 0.1  # the context around a detection its classifier crop gets (window labels, explain, crops)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W, 3) RGB image, got an array of shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return image[:, :, :3]


def crop_boxes(image: np.ndarray, boxes: np.ndarray, padding: float = 0.0) -> list[np.ndarray]:
    """The xyxy `boxes` cut out of `image`, each grown by `padding` x its size on every side
    and clipped to the image (at least one pixel)."""
    crops = []
    for box in np.asarray(boxes, np.float64).reshape(-1, 4):
        left, top, right, bottom = crop_window(box, padding, *image.shape[:2])
        crops.append(image[top:bottom, left:right])
    return crops


def crop_window(box, padding: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixel bounds of the xyxy `box` grown by `padding` x its size
    on every side, clipped to a (height, width) image, at least one pixel."""
    x0, y0, x1, y1 = (float(v) for v in box)
    pad_x, pad_y = (x1 - x0) * padding, (y1 - y0) * padding
    left = int(np.clip(np.floor(x0 - pad_x), 0, width - 1))
    top = int(np.clip(np.floor(y0 - pad_y), 0, height - 1))
    right = int(np.clip(np.ceil(x1 + pad_x), left + 1, width))
    bottom = int(np.clip(np.ceil(y1 + pad_y), top + 1, height))
    return left, top, right, bottom


class Classifier:
    """A trained classifier file (or checkpoint) loaded on a device, ready to label images."""

    def __init__(
        self,
        model: Union[str, os.PathLike, ClassifierCheckpoint],
        device: str = "auto",
        batch_size: Optional[int] = None,
    ):
        checkpoint = model if isinstance(model, ClassifierCheckpoint) else load_classifier_file(model)
        self.path = None if isinstance(model, ClassifierCheckpoint) else Path(model)
        self.checkpoint = checkpoint
        self.class_names = checkpoint.class_names
        self.input_size = checkpoint.input_size
        self.name = checkpoint.name or (self.path.stem if self.path else checkpoint.architecture)
        self.device = resolve_device(device)
        self.device_info = describe(self.device)
        self.batch_size = batch_size or (64 if self.device.type == "cuda" else 16)
        self.model = self._build(checkpoint).to(self.device).eval()
        self.transform = eval_transform(checkpoint.input_size, checkpoint.mean, checkpoint.std)

    def _build(self, checkpoint: ClassifierCheckpoint) -> torch.nn.Module:
        source = self.path or "checkpoint"
        if checkpoint.architecture not in strategies.BACKBONES:
            raise CheckpointError(f"{source}: unknown architecture '{checkpoint.architecture}'")
        model = strategies.build_for_checkpoint(checkpoint.architecture, len(checkpoint.class_names))
        try:
            model.load_state_dict(checkpoint.state_dict, strict=True)
        except RuntimeError as exc:
            details = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
            raise CheckpointError(f"{source}: weights do not fit {checkpoint.architecture} "
                                  f"({'; '.join(details[:3])[:400] or str(exc)[:200]})") from None  # fmt: skip
        return model

    @property
    def metrics(self) -> dict:
        return self.checkpoint.metrics

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """One RGB uint8 image as the normalised (3, S, S) tensor the model takes."""
        return self.transform(to_image_tensor(shrink(_as_rgb(image), self.input_size)))

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, C) float32 class probabilities (softmax), in batches of `batch_size`."""
        out = [np.zeros((0, len(self.class_names)), np.float32)]
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(im) for im in images[start : start + self.batch_size]])
            with torch.inference_mode(), autocast_context(self.device):
                logits = self.model(batch.to(self.device))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        return np.concatenate(out)

    def predict(self, images: Sequence[np.ndarray], top_k: int = 3) -> list[Prediction]:
        """For each image, the `top_k` most probable (label, probability), best first."""
        probs = self.probabilities(images)
        k = max(1, min(top_k, len(self.class_names)))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(self.class_names[j], float(row[j])) for j in idx] for row, idx in zip(probs, order)]

    def predict_crops(
        self, image: np.ndarray, boxes: np.ndarray, top_k: int = 3, padding: float = 0.0
    ) -> list[Prediction]:
        """`predict` on the regions `boxes` (N, 4 xyxy, image pixels) of one image."""
        return self.predict(crop_boxes(_as_rgb(image), boxes, padding), top_k) if len(boxes) else []

    def label_boxes(
        self, image: Union[np.ndarray, str, os.PathLike], boxes: np.ndarray, top_k: int = 3, padding: float = 0.0,
        frame: Optional[int] = None, image_size: Optional[tuple[int, int]] = None,
    ) -> list[Prediction]:
        """`predict_crops` on `image`: an RGB array (e.g. a decoded video frame), an image file,
        or frame `frame` of a video file. `image_size` (height, width), when given, is the size
        the boxes were found at: a file that has changed since is an error, not wrong labels."""
        pixels = source_pixels(image, frame)
        if image_size is not None and tuple(pixels.shape[:2]) != tuple(image_size):
            raise ValueError(f"{_name(image, frame)} is {pixels.shape[1]}x{pixels.shape[0]} now, not the "
                             f"{image_size[1]}x{image_size[0]} it was analysed at; re-analyse it")
        return self.predict_crops(pixels, boxes, top_k=top_k, padding=padding)


def _name(image, frame: Optional[int]) -> str:
    if isinstance(image, np.ndarray):
        return "the image"
    return f"{image} frame {frame + 1}" if frame is not None else str(image)


def source_pixels(image: Union[np.ndarray, str, os.PathLike], frame: Optional[int] = None) -> np.ndarray:
    """RGB pixels of `image`: the array itself, the still image file, or frame `frame`
    (0-based) of the video file. Raises ImageLoadError / VideoError naming the file."""
    if isinstance(image, np.ndarray):
        return _as_rgb(image)
    if frame is None:
        return load_image(image)
    with VideoReader(image) as reader:
        pixels = reader.read(frame)
    if pixels is None:
        raise VideoError(image, f"frame {frame + 1} could not be read (the video has {reader.frame_count} frames)")
    return pixels


# ---------------------------------------------------------------------------- the user's models


@dataclass(frozen=True)
class ClassifierInfo:
    path: Path
    name: str
    architecture: str = ""
    class_names: tuple[str, ...] = ()
    strategy: str = ""
    accuracy: Optional[float] = None  # on its validation images
    date: str = ""
    input_size: int = 0
    size_bytes: int = 0
    error: str = ""  # set when the file cannot be used as a classifier


def classifier_info(path: str | os.PathLike) -> ClassifierInfo:
    """A classifier file's metadata (its tensors are not read); NotAClassifier for other files."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    try:
        meta = read_metadata(path)
    except NotAClassifier:
        raise
    except CheckpointError as exc:
        return ClassifierInfo(path, path.stem, size_bytes=size, error=str(exc))
    accuracy = (meta.get("metrics") or {}).get("val_accuracy")
    return ClassifierInfo(
        path=path, name=str(meta.get("name") or path.stem), architecture=str(meta.get("architecture", "")),
        class_names=tuple(meta.get("class_names", ())), strategy=str(meta.get("strategy", "")),
        accuracy=None if accuracy is None else float(accuracy), date=str(meta.get("date", "")),
        input_size=int(meta.get("input_size", 0)), size_bytes=size,
    )  # fmt: skip


def list_user_classifiers(folder: Optional[str | os.PathLike] = None) -> list[ClassifierInfo]:
    """The classifier files in the user models folder (default engine.weights.user_models_dir()),
    newest first; files that are not usable classifiers come last with `error` set."""
    folder = Path(folder) if folder else user_models_dir()
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.suffix == MODEL_SUFFIX and not p.name.startswith(".")]
    infos = []
    for path in files:
        try:
            infos.append(classifier_info(path))
        except NotAClassifier:
            continue
    return sorted(infos, key=lambda i: (bool(i.error), _negated(i.date), i.name))


def find_classifier(text: str | os.PathLike) -> Path:
    """A path as given, else a classifier in the user models folder by file stem or name."""
    path = Path(text)
    if path.exists() or path.suffix:
        return path
    for info in list_user_classifiers():
        if str(text) in (info.path.stem, info.name):
            return info.path
    return user_models_dir() / f"{text}.pt"


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
