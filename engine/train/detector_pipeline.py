"""Fine-tune a detector on labelled images, for the CLI and the wizard alike:

    data = load_coco("annotations.json")            # or review_source.read_reviewed(folder)
    result = train_detector(data, DetectorConfig(base="demo-shapes"), progress=cb,
                            on_epoch=draw, cancel=token, stop=stop_token)
    path = result.save()                            # atomically, into the user models folder

The base model's heads are widened for new classes (`detection_model`), the images are split
into training and held-out parts (by image, seeded), the held-out part is scored with COCOeval
before and after training, and the best epoch by held-out box AP50 is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from engine import models
from engine.devices import resolve_device
from engine.train import detection_model as DM
from engine.train.dataset import DatasetError
from engine.train.detection_batches import DetectionDataset, collate
from engine.train.detection_data import DetectionData, split
from engine.train.detection_eval import DetectionScores, evaluate_detector
from engine.train.detection_fit import (
    DetectorEpoch,
    DetectorFit,
    fit_detector,
    warmup_cosine,
)
from engine.train.detector_checkpoint import (
    DetectorCheckpoint,
    make_checkpoint,
    save_detector,
)
from engine.train.loop import ProgressTracker
from engine.types import CancelToken, ProgressCallback

DEFAULT_ITERATIONS = 192  # when no epoch count is given: enough epochs for about this many steps
# (192: the demo fine-tuning benchmark in 14 min on 2 cores, new class AP50 0.944 unseen; 128 reached 0.769)
MAX_EVALUATIONS = 20  # held-out evaluations during training, at most (plus before and after)


@dataclass(frozen=True)
class DetectorConfig:
    base: str | None = None  # default: the model the data was reviewed with, else demo-shapes
    epochs: int | None = None  # default: enough for DEFAULT_ITERATIONS optimiser steps
    batch_size: int = 4
    lr: float = 0.01  # SGD; from-scratch demo training used 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iterations: int = 30
    warm_start_epochs: int = 0  # the backbone frozen for the first epochs
    val_fraction: float = 0.2
    flip: bool = True
    seed: int = 0
    device: str = "auto"
    name: str = ""

    def epochs_for(self, train_images: int) -> int:
        if self.epochs:
            return self.epochs
        per_epoch = max(1, math.ceil(train_images / self.batch_size))
        return max(1, math.ceil(DEFAULT_ITERATIONS / per_epoch))


@dataclass
class DetectorResult:
    checkpoint: DetectorCheckpoint
    fit: DetectorFit
    before: DetectionScores | None
    after: DetectionScores | None
    plan: DM.BaseModel
    train_images: int
    val_images: int
    seconds: float
    saved_to: Path | None = field(default=None)

    def save(self, path=None) -> Path:
        self.saved_to = save_detector(self.checkpoint, path)
        return self.saved_to


def default_base(data: DetectionData) -> str:
    return data.base_model or models.DEMO_MODEL


def _check(data: DetectionData, config: DetectorConfig) -> None:
    if not data.class_names:
        raise DatasetError(f"{data.source}: no labelled objects to train on")
    if config.batch_size < 1 or (config.epochs is not None and config.epochs < 1):
        raise ValueError("--epochs and --batch-size must be at least 1")


def _loader(dataset: DetectionDataset, batch_size: int, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate, generator=generator,
                      drop_last=len(dataset) > batch_size)


def _optimizer(model, config: DetectorConfig, total: int):
    optimizer = torch.optim.SGD(DM.trainable_parameters(model), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, config.warmup_iterations))
    return optimizer, scheduler


def train_detector(data: DetectionData, config: DetectorConfig = DetectorConfig(),
                   progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                   stop: CancelToken | None = None,
                   on_epoch: Callable[[DetectorEpoch], None] | None = None) -> DetectorResult:
    """Fine-tune `config.base` on `data`; Cancelled when `cancel` is set (nothing is kept)."""
    _check(data, config)
    began = time.perf_counter()
    torch.manual_seed(config.seed)
    plan = DM.plan(config.base or default_base(data), data.class_names, data.keypoint_names, data.skeleton)
    device = resolve_device(config.device)
    model = DM.build(plan).to(device)
    with_masks = "masks" in plan.outputs and data.has_masks
    mask_pool = model.roi_heads.mask_roi_pool
    if mask_pool is not None and not with_masks:
        model.roi_heads.mask_roi_pool = None  # no masks to learn from: the mask head is left as it was
    train, val = split(data.samples, config.val_fraction, config.seed)
    index = {name: i for i, name in enumerate(plan.class_names)}
    keypoints = plan.keypoint_names if "keypoints" in plan.outputs else ()
    loader = _loader(DetectionDataset(train, index, with_masks, keypoints, config.flip), config.batch_size, config.seed)
    epochs = config.epochs_for(len(train))
    eval_every = max(1, math.ceil(epochs / MAX_EVALUATIONS))
    evaluations = (math.ceil(epochs / eval_every) + 2) if val else 0
    tracker = ProgressTracker(epochs * len(loader) + evaluations * len(val), progress, cancel)
    amp = device.type == "cuda"

    def score(message: str) -> DetectionScores | None:
        def step() -> None:
            tracker.step(message)

        return evaluate_detector(model, val, plan.class_names, device, with_masks, amp, step) if val else None

    scored: list[DetectionScores] = []

    def validate(message: str) -> float:
        scored.append(score(message))
        return scored[-1].box_ap50

    before = score("evaluating the base model")
    optimizer, scheduler = _optimizer(model, config, epochs * len(loader))
    fit = fit_detector(model, loader, validate if val else None, optimizer, scheduler, device, epochs,
                       config.warm_start_epochs, eval_every, amp, tracker, on_epoch, stop)  # fmt: skip
    # the model now holds the best epoch's weights: the first evaluation with the highest AP50
    after = max(scored, key=lambda s: s.box_ap50) if scored else score("evaluating the trained model")
    model.roi_heads.mask_roi_pool = mask_pool
    tracker.skip(tracker.total - tracker.done)
    return _result(model.cpu(), data, config, plan, fit, before, after, len(train), len(val), with_masks,
                   time.perf_counter() - began)


def _result(model, data: DetectionData, config: DetectorConfig, plan: DM.BaseModel, fit: DetectorFit,
            before, after, train_count: int, val_count: int, with_masks: bool, seconds: float) -> DetectorResult:
    metrics = {
        "before": before.to_dict() if before else None, "after": after.to_dict() if after else None,
        "best_epoch": fit.best_epoch, "stop_reason": fit.stop_reason, "iterations": fit.iterations,
        "history": [m.to_dict() for m in fit.history], "seconds": round(seconds, 1),
    }  # fmt: skip
    training = {
        "config": asdict(config), "base": plan.source, "source": data.source, "train_images": train_count,
        "val_images": val_count, "objects": data.counts(), "new_classes": list(plan.new_classes),
        "masks_trained": with_masks,
    }  # fmt: skip
    name = config.name or (f"{plan.base}+{'+'.join(plan.new_classes)}" if plan.new_classes else f"{plan.base}-finetuned")
    checkpoint = make_checkpoint(model, plan.base, plan.class_names, plan.outputs, plan.keypoint_names, plan.skeleton,
                                 metrics, training, name)  # fmt: skip
    return DetectorResult(checkpoint, fit, before, after, plan, train_count, val_count, seconds)
