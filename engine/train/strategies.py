"""How a ResNet classifier is built and which of its parameters train, and how fast.

Strategies (from least to most that is learnt):

    probe-features  frozen ImageNet encoder run once over the data; a linear layer
                    (multinomial logistic regression) is trained on the stored features
    probe-frozen    frozen encoder (BatchNorm in eval mode), new last layer, augmentation
    finetune        new last layer, whole network trained at a low learning rate; optional
                    warm start (encoder frozen for the first epochs) and layer-wise LR decay
    scratch         random initialisation, whole network at a normal learning rate
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from torchvision.models import ResNet, get_model, get_model_weights

from engine import weights as W
from engine.types import CancelToken, ProgressCallback

STRATEGIES = ("probe-features", "probe-frozen", "finetune", "scratch")
BACKBONES = ("resnet18", "resnet34", "resnet50")
DEFAULT_STRATEGY = "finetune"
DEFAULT_BACKBONE = "resnet18"
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "step")

# Recommendation thresholds, on the smallest number of training images in any class.
PROBE_FEATURES_BELOW = 30  # fewer: a linear probe on stored features (fast, hard to overfit)
WARM_START_BELOW = 500  # fewer: fine-tune with a warm start and layer-wise LR decay
RECOMMENDED_WARM_START_EPOCHS = 2
RECOMMENDED_LAYER_DECAY = 0.5

# Default learning rates: fine-tuning uses 10x less than training from scratch.
DEFAULT_LR = {
    ("probe-features", "adamw"): 1e-2, ("probe-features", "sgd"): 1e-1,
    ("probe-frozen", "adamw"): 1e-3, ("probe-frozen", "sgd"): 1e-2,
    ("finetune", "adamw"): 1e-4, ("finetune", "sgd"): 1e-3,
    ("scratch", "adamw"): 1e-3, ("scratch", "sgd"): 1e-2,
}  # fmt: skip
DEFAULT_EPOCHS = {"probe-features": 100, "probe-frozen": 15, "finetune": 15, "scratch": 30}
STEP_SCHEDULE_STEPS = 3  # the step schedule divides the LR by 10 after each third of the epochs
SGD_MOMENTUM = 0.9

# The parameter stages of a torchvision ResNet, from input to output.
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    reason: str
    warm_start_epochs: int = 0
    layer_decay: Optional[float] = None


def recommend(min_images_per_class: int, imagenet_weights_available: bool = True) -> Recommendation:
    """A strategy for a data set whose smallest class has this many training images."""
    n = min_images_per_class
    if not imagenet_weights_available:
        return Recommendation("scratch", "ImageNet weights are not on this machine, so only training "
                              "from scratch is possible (it needs many images per class)")  # fmt: skip
    if n < PROBE_FEATURES_BELOW:
        return Recommendation("probe-features", f"the smallest class has {n} training images (fewer than "
                              f"{PROBE_FEATURES_BELOW}): a linear probe on frozen ImageNet features is fast "
                              "and hard to overfit")  # fmt: skip
    if n < WARM_START_BELOW:
        return Recommendation("finetune", f"the smallest class has {n} training images (fewer than "
                              f"{WARM_START_BELOW}): fine-tune with a warm start and lower learning rates "
                              "for early layers, so few images do not wreck the ImageNet features",
                              RECOMMENDED_WARM_START_EPOCHS, RECOMMENDED_LAYER_DECAY)  # fmt: skip
    return Recommendation("finetune", f"every class has at least {WARM_START_BELOW} training images: "
                          "fine-tune the whole network (training from scratch can pay off too when "
                          "the images look nothing like photographs)")  # fmt: skip


def default_lr(strategy: str, optimizer: str = "adamw") -> float:
    return DEFAULT_LR[(strategy, optimizer)]


def uses_imagenet(strategy: str) -> bool:
    return strategy != "scratch"


# ---------------------------------------------------------------------------- weights


def imagenet_weights_path(backbone: str) -> Path:
    """Where torchvision keeps (and looks for) the ImageNet weights of `backbone`."""
    return W.cache_path_for_url(get_model_weights(backbone).DEFAULT.url)


def load_imagenet_state(
    backbone: str,
    allow_download: bool = False,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> dict:
    """The ImageNet state dict of `backbone` from the cache; WeightsMissing if it is not there
    (downloaded first when `allow_download`)."""
    path = imagenet_weights_path(backbone)
    if not path.is_file():
        if not allow_download:
            raise W.WeightsMissing(f"{backbone} (ImageNet)", path)
        W.download(get_model_weights(backbone).DEFAULT.url, path, progress, cancel)
    return W.load_state_dict_file(path)


def build_model(
    backbone: str,
    num_classes: int,
    pretrained: bool,
    allow_download: bool = False,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> ResNet:
    """A torchvision ResNet with a new `num_classes` last layer; ImageNet weights when
    `pretrained` (read from the cache, never fetched unless allow_download)."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone '{backbone}': choose one of {', '.join(BACKBONES)}")
    model = get_model(backbone, weights=None)
    if pretrained:
        state = load_imagenet_state(backbone, allow_download, progress, cancel)
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            path = imagenet_weights_path(backbone)
            raise W.WeightsError(f"{path}: not {backbone} ImageNet weights ({str(exc).splitlines()[0]})") from None
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def build_for_checkpoint(architecture: str, num_classes: int) -> ResNet:
    """The bare architecture a saved classifier's state dict fits."""
    return get_model(architecture, weights=None, num_classes=num_classes)


# ---------------------------------------------------------------------------- parts


def encode(model: ResNet, x: torch.Tensor) -> torch.Tensor:
    """The pooled encoder features: `model(x) == model.fc(encode(model, x))`."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return torch.flatten(model.avgpool(x), 1)


def stage_modules(model: ResNet) -> dict[str, list[nn.Module]]:
    return {
        "stem": [model.conv1, model.bn1], "layer1": [model.layer1], "layer2": [model.layer2],
        "layer3": [model.layer3], "layer4": [model.layer4], "fc": [model.fc],
    }  # fmt: skip


def encoder_modules(model: ResNet) -> list[nn.Module]:
    return [m for name, mods in stage_modules(model).items() if name != "fc" for m in mods]


def encoder_parameters(model: ResNet) -> list[nn.Parameter]:
    return [p for m in encoder_modules(model) for p in m.parameters()]


def set_encoder_frozen(model: ResNet, frozen: bool) -> None:
    """Freeze (requires_grad False) or unfreeze every parameter except the last layer's."""
    for param in encoder_parameters(model):
        param.requires_grad_(not frozen)


def encoder_frozen(model: nn.Module) -> bool:
    return isinstance(model, ResNet) and not any(p.requires_grad for p in encoder_parameters(model))


def set_training_mode(model: nn.Module) -> None:
    """train() mode, but a frozen encoder stays in eval mode so BatchNorm statistics hold still."""
    model.train()
    if encoder_frozen(model):
        for module in encoder_modules(model):
            module.eval()


def param_groups(model: nn.Module, lr: float, layer_decay: Optional[float] = None) -> list[dict]:
    """Optimiser groups, one per stage ("name" key): the last layer at `lr`, each stage before
    it `layer_decay` times the one after (no decay when None or 1)."""
    if not isinstance(model, ResNet):
        return [{"params": list(model.parameters()), "lr": lr, "name": "fc"}]
    decay = 1.0 if layer_decay is None else float(layer_decay)
    groups = []
    for depth, (name, modules) in enumerate(reversed(list(stage_modules(model).items()))):
        params = [p for m in modules for p in m.parameters()]
        groups.append({"params": params, "lr": lr * decay**depth, "name": name})
    return list(reversed(groups))


def make_optimizer(name: str, groups: list[dict], weight_decay: float) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(groups, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=SGD_MOMENTUM, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}': choose one of {', '.join(OPTIMIZERS)}")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, epochs: int, warmup_epochs: int = 0):
    """Stepped once per epoch: cosine decay to zero, or /10 every third of the epochs; with
    `warmup_epochs`, the LR first rises linearly over those epochs (from 1/(warmup+1) of it)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule '{name}': choose one of {', '.join(SCHEDULES)}")
    warmup = max(0, min(int(warmup_epochs), epochs - 1))
    if name == "cosine" and not warmup:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "step" and not warmup:
        step = max(1, -(-epochs // STEP_SCHEDULE_STEPS))
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(_warmup_factor, name, epochs, warmup))


def _warmup_factor(name: str, epochs: int, warmup: int, epoch: int) -> float:
    """The LR multiplier in epoch `epoch` (0-based): a linear ramp, then the schedule over the
    remaining epochs."""
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    rest, done = max(1, epochs - warmup), epoch - warmup
    if name == "cosine":
        return 0.5 * (1 + math.cos(math.pi * done / rest))
    return 0.1 ** (done // max(1, -(-rest // STEP_SCHEDULE_STEPS)))
