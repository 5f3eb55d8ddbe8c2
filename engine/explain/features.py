"""What the backbone computes: the strongest channels of each stage (ResNet layers, FPN
levels), taken with `torchvision.models.feature_extraction`, and the first layer's filters."""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from engine.explain.maps import to_image_size, unit_range
from engine.explain.types import FeatureMaps, Filters

DEFAULT_TOP = 4  # channels shown per stage


def _resnet_nodes(module: nn.Module, prefix: str = "") -> dict[str, str]:
    return {f"{prefix}{name}": name for name, _ in module.named_children() if name.startswith("layer")}


def classifier_stages(classifier) -> list[str]:
    return list(_resnet_nodes(classifier.model).values())


def detector_stages(detector) -> list[str]:
    """The detector's ResNet stages, then its FPN levels (names as `fpn0`.. and `fpnpool`)."""
    network = detector.networks[0]
    stages = list(_resnet_nodes(network.backbone.body, "body.").values())
    if hasattr(network.backbone, "fpn"):
        with torch.inference_mode():
            probe = network.backbone(torch.zeros(1, 3, 64, 64, device=next(network.parameters()).device))
        stages += [f"fpn{key}" for key in probe]
    return stages


def _check_stages(asked: Optional[Sequence[str]], known: list[str]) -> list[str]:
    unknown = [s for s in asked or () if s not in known]
    if unknown:
        raise ValueError(f"unknown stage {', '.join(unknown)}: this model has {', '.join(known)}")
    return list(asked) if asked else known


def _strongest(stage: str, features: torch.Tensor, valid: tuple[int, int], padded: tuple[int, int],
               size: tuple[int, int], top: int) -> FeatureMaps:  # fmt: skip
    """The `top` channels of one (C, h, w) map with the largest mean over the image's region."""
    (valid_h, valid_w), (padded_h, padded_w), (height, width) = valid, padded, size
    fh, fw = features.shape[1:]
    cells_h, cells_w = max(1, -(-valid_h * fh // padded_h)), max(1, -(-valid_w * fw // padded_w))
    means = features[:, :cells_h, :cells_w].float().mean(dim=(1, 2))
    order = torch.argsort(means, descending=True, stable=True)[: max(1, top)].tolist()
    maps = []
    for channel in order:
        full = cv2.resize(features[channel].float().cpu().numpy(), (padded_w, padded_h), interpolation=cv2.INTER_LINEAR)
        maps.append(to_image_size(unit_range(full[:valid_h, :valid_w]), height, width))
    return FeatureMaps(stage, tuple(order), tuple(float(means[c]) for c in order), np.stack(maps),
                       max(1, round(padded_h / fh)))  # fmt: skip


def classifier_features(classifier, image: np.ndarray, stages: Optional[Sequence[str]] = None,
                        top: int = DEFAULT_TOP) -> list[FeatureMaps]:  # fmt: skip
    """The strongest channels of each asked ResNet stage (default all) for one RGB image."""
    nodes = _resnet_nodes(classifier.model)
    chosen = _check_stages(stages, list(nodes.values()))
    extractor = create_feature_extractor(classifier.model, {n: s for n, s in nodes.items() if s in chosen})
    batch = classifier.preprocess(image)[None].to(classifier.device)
    with torch.inference_mode():
        out = extractor(batch)
    side = int(batch.shape[-1])
    size = np.asarray(image).shape[:2]
    return [_strongest(s, out[s][0], (side, side), (side, side), size, top) for s in chosen]


def detector_features(detector, image: np.ndarray, stages: Optional[Sequence[str]] = None,
                      top: int = DEFAULT_TOP) -> list[FeatureMaps]:  # fmt: skip
    """The strongest channels of each asked backbone stage and FPN level (default all), on the
    image as the detector itself sees it (its transform: normalised, resized, padded)."""
    network = detector.networks[0]
    chosen = _check_stages(stages, detector_stages(detector))
    nodes = {n: s for n, s in _resnet_nodes(network.backbone.body, "body.").items() if s in chosen}
    if any(s.startswith("fpn") for s in chosen):
        nodes["fpn"] = "fpn"
    extractor = create_feature_extractor(network.backbone, nodes)
    tensor = detector.to_tensors([image])[0]
    with torch.inference_mode():
        images, _ = network.transform([tensor])
        out = extractor(images.tensors)
    for key, value in (out.pop("fpn", None) or {}).items():
        out[f"fpn{key}"] = value
    valid, padded = tuple(images.image_sizes[0]), tuple(images.tensors.shape[-2:])
    return [_strongest(s, out[s][0], valid, padded, image.shape[:2], top) for s in chosen]


def first_layer_filters(network: nn.Module) -> Filters:
    """The kernels of the first convolution that takes the 3 colour channels."""
    for name, module in network.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            weights = module.weight.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
            return Filters(name, np.stack([unit_range(w) for w in weights]))
    raise ValueError("this model has no convolution on the colour channels")
