"""Image preprocessing and augmentation (torchvision.transforms.v2), and the torch Dataset.

Evaluation and classification squash each image (or crop) to image_size x image_size: no
centre crop, so the edges of a detection crop are never cut off. Training may add, each on or
off with a strength in [0, 1]: a random resized crop, a horizontal flip, colour jitter
("colour casting") and a small rotation/affine ("geometric distortion").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from engine.images import load_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SHRINK_FACTOR = 2  # images are first shrunk (area-averaged) to at most this x image_size
CACHE_BUDGET_BYTES = 1 << 30  # decoded images kept in memory per dataset, at most


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation; each kind is on or off and has a strength in [0, 1]."""

    crop: bool = True  # random resized crop; strength 1 keeps as little as 10% of the area
    crop_strength: float = 0.5
    flip: bool = True  # horizontal flip; strength is the probability
    flip_strength: float = 0.5
    colour: bool = True  # brightness, contrast, saturation and hue jitter
    colour_strength: float = 0.3
    geometric: bool = True  # rotation (up to 30 degrees at 1), shift, scale, shear
    geometric_strength: float = 0.3

    @classmethod
    def off(cls) -> "AugmentConfig":
        return cls(crop=False, flip=False, colour=False, geometric=False)

    @property
    def enabled(self) -> bool:
        return self.crop or self.flip or self.colour or self.geometric

    def to_dict(self) -> dict:
        return asdict(self)


def _clamp(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def augmentation_steps(config: AugmentConfig, image_size: int) -> list[v2.Transform]:
    """The uint8 -> uint8 part of the training pipeline (resize included)."""
    size = (image_size, image_size)
    steps: list[v2.Transform] = []
    if config.crop and config.crop_strength > 0:
        low = 1.0 - 0.9 * _clamp(config.crop_strength)
        steps.append(v2.RandomResizedCrop(size, scale=(low, 1.0), antialias=True))
    else:
        steps.append(v2.Resize(size, antialias=True))
    if config.flip and config.flip_strength > 0:
        steps.append(v2.RandomHorizontalFlip(p=_clamp(config.flip_strength)))
    if config.geometric and config.geometric_strength > 0:
        s = _clamp(config.geometric_strength)
        steps.append(v2.RandomAffine(degrees=30 * s, translate=(0.15 * s, 0.15 * s),
                                     scale=(1 - 0.2 * s, 1 + 0.2 * s), shear=10 * s,
                                     interpolation=v2.InterpolationMode.BILINEAR))  # fmt: skip
    if config.colour and config.colour_strength > 0:
        s = _clamp(config.colour_strength)
        steps.append(v2.ColorJitter(brightness=0.8 * s, contrast=0.8 * s, saturation=0.8 * s, hue=0.1 * s))
    return steps


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]


def train_transform(
    image_size: int, augment: AugmentConfig, mean=IMAGENET_MEAN, std=IMAGENET_STD
) -> v2.Compose:
    return v2.Compose(augmentation_steps(augment, image_size) + _normalise(mean, std))


def eval_transform(image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    return v2.Compose([v2.Resize((image_size, image_size), antialias=True)] + _normalise(mean, std))


def shrink(image: np.ndarray, image_size: int) -> np.ndarray:
    """`image` area-averaged down so its shorter side is at most SHRINK_FACTOR x image_size."""
    height, width = image.shape[:2]
    limit = SHRINK_FACTOR * image_size
    if min(height, width) <= limit:
        return image
    scale = limit / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def to_image_tensor(image: np.ndarray) -> tv_tensors.Image:
    """An (H, W, 3) uint8 array as a (3, H, W) uint8 tv_tensors.Image (no copy when possible)."""
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))


class ImageDataset(Dataset):
    """(path, label) samples -> (float tensor, label); decoded images optionally kept in memory."""

    def __init__(self, samples, transform, image_size: int, cache: bool = True):
        self.samples = list(samples)
        self.transform = transform
        self.image_size = image_size
        self.cache = cache
        self._cached: dict[int, np.ndarray] = {}
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.samples)

    def image(self, index: int) -> np.ndarray:
        if index in self._cached:
            return self._cached[index]
        image = shrink(load_image(self.samples[index][0]), self.image_size)
        if self.cache and self._cached_bytes + image.nbytes <= CACHE_BUDGET_BYTES:
            self._cached[index] = image
            self._cached_bytes += image.nbytes
        return image

    def __getitem__(self, index: int):
        return self.transform(to_image_tensor(self.image(index))), int(self.samples[index][1])


def preview_augmentations(
    image: np.ndarray,
    augment: AugmentConfig,
    image_size: int = 224,
    count: int = 8,
    seed: Optional[int] = 0,
) -> list[np.ndarray]:
    """`count` augmented versions of `image` as (image_size, image_size, 3) uint8 arrays, for a
    preview grid. Seeded (None: random) without disturbing the global random state."""
    pipeline = v2.Compose(augmentation_steps(augment, image_size))
    source = to_image_tensor(shrink(image, image_size))
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return [pipeline(source).permute(1, 2, 0).numpy().copy() for _ in range(count)]
