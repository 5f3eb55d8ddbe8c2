"""Tensors for the segmenter: random-crop training batches and whole validation images.

Training: the image is scaled to the working size (longer side `image_size`) times a random
factor in [0.75, 1.33], a `crop` x `crop` window is cut at random (padded with IGNORE where
the image is smaller), flipped left-right half the time, its colour channels shuffled and its
brightness and contrast jittered: the shapes' colours say nothing about their class. No
vertical flips or rotations, which would show things upside down. Validation and inference
use the whole image at the working size, padded to a multiple of the network's stride.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from engine.segment.data import IGNORE, Sample

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
SCALE_RANGE = (0.75, 1.33)


def working_size(height: int, width: int, image_size: int) -> tuple[int, int]:
    """(height, width) with the longer side `image_size`, aspect kept."""
    scale = image_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def padded(height: int, width: int, multiple: int) -> tuple[int, int]:
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def to_tensor(image: np.ndarray, mean=MEAN, std=STD) -> torch.Tensor:
    """(3, H, W) float32, normalised, from an (H, W, 3) uint8 RGB array."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)
    return tensor.sub_(torch.tensor(mean).view(3, 1, 1)).div_(torch.tensor(std).view(3, 1, 1))


def pad_to(image: np.ndarray, target: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad at the bottom and right: the image by repeating its edge, the map with IGNORE."""
    h, w = target.shape
    image = cv2.copyMakeBorder(image, 0, height - h, 0, width - w, cv2.BORDER_REPLICATE)
    target = cv2.copyMakeBorder(target, 0, height - h, 0, width - w, cv2.BORDER_CONSTANT, value=IGNORE)
    return image, target


def _resize(image: np.ndarray, target: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    shrinking = height < image.shape[0]
    return (cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR),
            cv2.resize(target, (width, height), interpolation=cv2.INTER_NEAREST))


def augment(sample: Sample, image_size: int, crop: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random training view of `sample`: (crop, crop, 3) uint8 image and (crop, crop) map."""
    factor = float(np.exp(rng.uniform(*np.log(SCALE_RANGE))))
    height, width = working_size(*sample.target.shape, round(image_size * factor))
    image, target = _resize(sample.image, sample.target, height, width)
    image, target = pad_to(image, target, max(height, crop), max(width, crop))
    y = int(rng.integers(0, image.shape[0] - crop + 1))
    x = int(rng.integers(0, image.shape[1] - crop + 1))
    image, target = image[y : y + crop, x : x + crop], target[y : y + crop, x : x + crop]
    if rng.random() < 0.5:
        image, target = image[:, ::-1], target[:, ::-1]
    image = image[..., rng.permutation(3)].astype(np.float32)
    image = (image - image.mean()) * rng.uniform(0.7, 1.3) + image.mean() + rng.uniform(-30, 30)
    return np.clip(image, 0, 255).astype(np.uint8), np.ascontiguousarray(target)


class CropDataset(Dataset):
    """Random augmented crops; the randomness comes from torch's seeded generator."""

    def __init__(self, samples: list[Sample], image_size: int, crop: int):
        self.samples, self.image_size, self.crop = samples, image_size, crop

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        image, target = augment(self.samples[index], self.image_size, self.crop, rng)
        return to_tensor(image), torch.from_numpy(target).long()


class WholeDataset(Dataset):
    """Each sample at the working size, padded to `multiple` (the padding is IGNORE)."""

    def __init__(self, samples: list[Sample], image_size: int, multiple: int):
        self.samples, self.image_size, self.multiple = samples, image_size, multiple

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        height, width = working_size(*sample.target.shape, self.image_size)
        image, target = _resize(sample.image, sample.target, height, width)
        image, target = pad_to(image, target, *padded(height, width, self.multiple))
        return to_tensor(image), torch.from_numpy(target).long()
