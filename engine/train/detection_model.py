"""A detector to fine-tune, built from a base model: the base's classes come first, in their
order, and classes only the data has are appended. The class-specific layers (the box
classifier and box regressor, the mask predictor's last convolution, the keypoint predictor)
are replaced by wider ones into which the rows of the known classes (and keypoints, matched by
name) are copied; new rows keep their fresh initialisation. Everything else transfers as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from engine import models


@dataclass(frozen=True)
class BaseModel:
    """What the training starts from, and the class and keypoint lists of the result."""

    base: str  # the registry architecture
    source: str  # the registry name or file it was loaded from
    base_classes: tuple[str, ...]  # background first
    class_names: tuple[str, ...]  # base_classes + the new ones
    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    outputs: tuple[str, ...]

    @property
    def new_classes(self) -> tuple[str, ...]:
        return self.class_names[len(self.base_classes) :]


def _copy_rows(new: torch.Tensor, old: torch.Tensor, sources: Sequence[int | None], per: int, dim: int) -> None:
    """new[j] = old[sources[j]] along `dim`, in blocks of `per` rows, where sources[j] is set."""
    with torch.no_grad():
        for j, i in enumerate(sources):
            if i is not None:
                new.narrow(dim, j * per, per).copy_(old.narrow(dim, i * per, per))


def _resized(layer: nn.Module, count: int, sources: Sequence[int | None], per: int = 1) -> nn.Module:
    """A copy of a Linear, Conv2d or ConvTranspose2d layer with `count * per` outputs."""
    if isinstance(layer, nn.Linear):
        fresh, dim = nn.Linear(layer.in_features, count * per), 0
    elif isinstance(layer, nn.ConvTranspose2d):
        fresh = nn.ConvTranspose2d(layer.in_channels, count * per, layer.kernel_size, layer.stride, layer.padding)
        nn.init.kaiming_normal_(fresh.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(fresh.bias, 0)
        dim = 1
    elif isinstance(layer, nn.Conv2d):
        fresh = nn.Conv2d(layer.in_channels, count * per, layer.kernel_size, layer.stride, layer.padding)
        nn.init.kaiming_normal_(fresh.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(fresh.bias, 0)
        dim = 0
    else:
        raise TypeError(f"cannot resize a {type(layer).__name__}")
    _copy_rows(fresh.weight, layer.weight, sources, per, dim)
    _copy_rows(fresh.bias, layer.bias, sources, per, 0)
    return fresh.to(layer.weight.device)


def resize_heads(model: nn.Module, class_count: int, keypoint_sources: Sequence[int | None] | None = None) -> nn.Module:
    """Give `model` `class_count` classes (background included): the first rows of the old
    class-specific layers are kept. `keypoint_sources[j]` is the old keypoint that new keypoint
    j copies (None: fresh); None leaves the keypoint predictor as it is."""
    heads = model.roi_heads
    box = heads.box_predictor
    old_count = box.cls_score.out_features
    sources = [i if i < old_count else None for i in range(class_count)]
    box.cls_score = _resized(box.cls_score, class_count, sources)
    box.bbox_pred = _resized(box.bbox_pred, class_count, sources, per=4)
    if heads.mask_predictor is not None:
        heads.mask_predictor.mask_fcn_logits = _resized(heads.mask_predictor.mask_fcn_logits, class_count, sources)
    if heads.keypoint_predictor is not None and keypoint_sources is not None:
        predictor = heads.keypoint_predictor
        predictor.kps_score_lowres = _resized(predictor.kps_score_lowres, len(keypoint_sources), keypoint_sources)
        predictor.out_channels = len(keypoint_sources)
    return model


def keypoint_sources(base_names: Sequence[str], names: Sequence[str]) -> list[int | None] | None:
    """For each keypoint of `names`, its index in `base_names` (None when new); None when the
    two lists are the same."""
    if tuple(base_names) == tuple(names):
        return None
    return [list(base_names).index(n) if n in base_names else None for n in names]


def plan(base: str, data_classes: Sequence[str], data_keypoints: Sequence[str] = (), skeleton=()) -> BaseModel:
    """The class and keypoint lists a model fine-tuned from `base` on this data will have."""
    spec = models.get_spec(base)
    if spec.parts:
        raise ValueError(f"'{base}' joins two models; fine-tune one of {', '.join(spec.parts)} instead")
    base_classes = tuple(spec.categories)
    new = tuple(c for c in data_classes if c not in base_classes)
    keypoints = tuple(spec.keypoint_names)
    if "keypoints" in spec.outputs and data_keypoints and tuple(data_keypoints) != keypoints:
        keypoints, skeleton = tuple(data_keypoints), tuple(skeleton)
    else:
        skeleton = spec.skeleton
    architecture = getattr(spec, "base", "") or spec.name
    return BaseModel(architecture, spec.name, base_classes, base_classes + new, keypoints, tuple(skeleton),
                     tuple(o for o in ("boxes", "masks", "keypoints") if o in spec.outputs))


def build(plan_: BaseModel) -> nn.Module:
    """The base model with its weights loaded and its heads resized for `plan_` (train mode)."""
    model = models.load_model(plan_.source)
    spec = models.get_spec(plan_.source)
    resize_heads(model, len(plan_.class_names), keypoint_sources(spec.keypoint_names, plan_.keypoint_names))
    return model


# Frozen like torchvision's default of three trainable backbone layers: the stem and layer1.
FROZEN_PREFIXES = ("backbone.body.conv1.", "backbone.body.bn1.", "backbone.body.layer1.")


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter but the stem's and layer1's, which are frozen for good."""
    params = []
    for name, param in model.named_parameters():
        param.requires_grad_(not name.startswith(FROZEN_PREFIXES))
        if param.requires_grad:
            params.append(param)
    return params


def set_backbone_frozen(model: nn.Module, frozen: bool) -> None:
    """Warm start: freeze (or thaw) the whole backbone, the always-frozen layers excepted."""
    for name, param in model.backbone.named_parameters(prefix="backbone"):
        if not name.startswith(FROZEN_PREFIXES):
            param.requires_grad_(not frozen)


def set_training_mode(model: nn.Module) -> None:
    """Train mode with every BatchNorm's statistics frozen (batches of a few images are too
    small to estimate them), as torchvision's detection models do with FrozenBatchNorm2d."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
