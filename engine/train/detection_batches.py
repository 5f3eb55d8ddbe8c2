"""Detection samples as the (image tensor, target dict) pairs torchvision's detection models
train on, with the random horizontal flip of torchvision's detection reference (boxes, masks
and keypoints flipped; left and right keypoints swapped by name)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.images import load_image
from engine.train.detection_data import DetectionSample

_SIDE = re.compile(r"left|right|Left|Right|LEFT|RIGHT")
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def flip_permutation(keypoint_names: Sequence[str]) -> list[int]:
    """For each keypoint, the one it becomes in a mirrored image (`left_eye` <-> `right_eye`,
    `left` <-> `right`); itself when it has no side or no partner."""
    names = list(keypoint_names)
    mirrored = [_SIDE.sub(lambda m: _SWAP[m.group(0)], n) for n in names]
    return [names.index(m) if m in names else i for i, m in enumerate(mirrored)]


def collate(batch):
    return tuple(zip(*batch))


class DetectionDataset(Dataset):
    """`samples` as model inputs. `class_index` maps a class name to the model's label;
    `keypoint_count` 0 means the model has no keypoint head. `flip` mirrors each image with
    probability 0.5 (torch's RNG, so a seeded run repeats)."""

    def __init__(self, samples: Sequence[DetectionSample], class_index: dict[str, int], with_masks: bool,
                 keypoint_names: Sequence[str] = (), flip: bool = False):
        self.samples, self.class_index, self.with_masks = list(samples), class_index, with_masks
        self.keypoint_count, self.flip = len(keypoint_names), flip
        self.permutation = flip_permutation(keypoint_names)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        image = load_image(sample.path)
        target = self.target(sample, image.shape[:2])
        tensor = torch.from_numpy(image).permute(2, 0, 1).float().div_(255)
        if self.flip and torch.rand(()) < 0.5:
            tensor, target = tensor.flip(-1), self.flipped(target, image.shape[1])
        return tensor, target

    def target(self, sample: DetectionSample, size: tuple[int, int]) -> dict:
        height, width = size
        instances = sample.instances
        boxes = np.stack([i.box for i in instances]) if instances else np.zeros((0, 4), np.float32)
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        target = {"boxes": torch.from_numpy(boxes),
                  "labels": torch.tensor([self.class_index[i.label] for i in instances], dtype=torch.int64)}
        if self.with_masks:
            masks = np.zeros((len(instances), height, width), np.uint8)
            for k, instance in enumerate(instances):
                masks[k] = instance.mask.to_full(height, width)
            target["masks"] = torch.from_numpy(masks)
        if self.keypoint_count:
            points = np.zeros((len(instances), self.keypoint_count, 3), np.float32)
            for k, instance in enumerate(instances):
                if instance.keypoints is not None and len(instance.keypoints) == self.keypoint_count:
                    points[k] = instance.keypoints
            target["keypoints"] = torch.from_numpy(points)
        return target

    def flipped(self, target: dict, width: int) -> dict:
        out = dict(target)
        boxes = target["boxes"].clone()
        boxes[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
        out["boxes"] = boxes
        if "masks" in target:
            out["masks"] = target["masks"].flip(-1)
        if "keypoints" in target:
            points = target["keypoints"][:, self.permutation].clone()
            points[..., 0] = width - points[..., 0]
            points[points[..., 2] == 0] = 0
            out["keypoints"] = points
        return out
