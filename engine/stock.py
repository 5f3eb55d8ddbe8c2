"""The stock torchvision call on the same network a `Detector` runs: what `predict` is measured
against (`sightline bench`, `make gpu-check`).

`stock_models(detector)` copies the detector's part models with everything the Detector changed
undone: torchvision's own `GeneralizedRCNNTransform.postprocess` (masks pasted at full image
resolution with `paste_masks_in_image`) and the default memory format. Same weights, same
inference size, torchvision's own score threshold (0.05). `stock_call` is what a torchvision user writes:
`to_tensor` per image, then `model(images)`, under `inference_mode` and, on CUDA, the same
float16 autocast the Detector uses, so a comparison measures only what `predict` adds or saves.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
from torchvision.transforms.functional import to_tensor

from engine import devices

STOCK_SCORE_THRESH = 0.05  # torchvision's box_score_thresh default


def stock_model(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of one detection model as torchvision builds it, weights and sizes kept."""
    stock = copy.deepcopy(model)
    stock.transform.__dict__.pop("postprocess", None)  # back to the class's own method
    stock.roi_heads.score_thresh = STOCK_SCORE_THRESH  # whatever score floor the Detector runs at
    return stock.to(memory_format=torch.contiguous_format).eval()


def stock_models(detector) -> list[torch.nn.Module]:
    """The stock counterpart of each of the detector's part models."""
    return [stock_model(model) for model in detector._models]


def stock_call(models: Sequence[torch.nn.Module], images: Sequence[np.ndarray], device: torch.device,
               autocast: bool = True) -> list:
    """`model([to_tensor(image), ...])` for each model: one list of output dicts per model.
    `autocast`: float16 autocast on CUDA, as `Detector.predict` uses by default."""
    tensors = [to_tensor(image).to(device) for image in images]
    with torch.inference_mode(), devices.autocast_context(device, autocast):
        return [model(tensors) for model in models]
