"""Plain data passed between the engine and its front ends: numpy arrays, no torch, no Qt.

Coordinates are original-image pixels. Boxes are xyxy floats. Masks are box-cropped boolean
bitmaps (`CroppedMask`), so a detection costs its box area, not the whole image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class CroppedMask:
    """A boolean instance mask stored only inside its bounding rectangle."""

    x0: int
    y0: int
    bitmap: np.ndarray  # (h, w) bool

    @property
    def area(self) -> int:
        return int(self.bitmap.sum())

    def to_full(self, height: int, width: int) -> np.ndarray:
        full = np.zeros((height, width), bool)
        h, w = self.bitmap.shape
        y1, x1 = min(height, self.y0 + h), min(width, self.x0 + w)
        full[self.y0 : y1, self.x0 : x1] = self.bitmap[: y1 - self.y0, : x1 - self.x0]
        return full

    @classmethod
    def from_full(cls, mask: np.ndarray) -> "CroppedMask":
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            return cls(0, 0, np.zeros((0, 0), bool))
        y0, x0 = int(ys.min()), int(xs.min())
        return cls(x0, y0, mask[y0 : ys.max() + 1, x0 : xs.max() + 1].astype(bool))


@dataclass(frozen=True)
class Detections:
    """What a detector found in one image, kept down to a low score floor for re-filtering.

    `labels` index into `class_names` (the model's own category list, as in
    torchvision's `weights.meta["categories"]`, background and "N/A" entries included).
    """

    image_size: tuple[int, int]  # (height, width)
    boxes: np.ndarray  # (N, 4) float32 xyxy
    scores: np.ndarray  # (N,) float32
    labels: np.ndarray  # (N,) int64
    class_names: tuple[str, ...]
    masks: Optional[tuple[CroppedMask, ...]] = None
    keypoints: Optional[np.ndarray] = None  # (N, K, 3) float32: x, y, visibility/score
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    model_name: str = ""
    inference_seconds: float = 0.0
    failure: str = ""  # set when the image could not be analysed (e.g. out of GPU memory)
    analysed_size: Optional[tuple[int, int]] = None  # (height, width) the model saw, when not image_size

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def scale_note(self) -> str:
        """"analysed at 640x480 of 8000x6000" when the model saw the image smaller, else ""."""
        if not self.analysed_size or tuple(self.analysed_size) == tuple(self.image_size):
            return ""
        (h, w), (height, width) = self.analysed_size, self.image_size
        return f"analysed at {w}x{h} of {width}x{height}"

    @property
    def names(self) -> list[str]:
        return [self.class_names[i] for i in self.labels]

    def select(self, keep: np.ndarray) -> "Detections":
        """A copy holding only the detections where `keep` (bool or index array) selects."""
        index = np.flatnonzero(keep) if keep.dtype == bool else np.asarray(keep, np.int64)
        return replace(
            self,
            boxes=self.boxes[index],
            scores=self.scores[index],
            labels=self.labels[index],
            masks=None if self.masks is None else tuple(self.masks[i] for i in index),
            keypoints=None if self.keypoints is None else self.keypoints[index],
        )

    def filter(self, min_score: float = 0.0, classes: Optional[set[str]] = None) -> "Detections":
        keep = self.scores >= min_score
        if classes is not None:
            keep &= np.array([n in classes for n in self.names], bool).reshape(keep.shape)
        return self.select(keep)

    @classmethod
    def empty(cls, image_size: tuple[int, int], class_names: Sequence[str], **kw) -> "Detections":
        return cls(
            image_size=image_size,
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            labels=np.zeros((0,), np.int64),
            class_names=tuple(class_names),
            **kw,
        )


@dataclass(frozen=True)
class Progress:
    """How far a long piece of work has got; `total` 0 when unknown."""

    done: int
    total: int
    message: str = ""
    elapsed: float = 0.0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def seconds_left(self) -> Optional[float]:
        if not self.total or not self.done:
            return None
        return self.elapsed / self.done * (self.total - self.done)


ProgressCallback = Callable[[Progress], None]


class Cancelled(Exception):
    """Raised inside engine work when its CancelToken was set."""


@dataclass
class CancelToken:
    """Set from any thread; long engine work checks it between steps."""

    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class ImageFailure:
    """An input that could not be processed, and why, in words a user can act on."""

    path: str
    reason: str
