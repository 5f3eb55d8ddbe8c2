"""One call from a scanned folder to a trained classifier: `train_classifier(report, config)`.

It builds the model for the chosen strategy, the data loaders (seeded: the same seed gives the
same metrics on the CPU), trains with early stopping, and returns the model, its results on
the validation images and a checkpoint ready to save. Nothing is written to disk here: the
caller saves with `result.save(path)`, so cancelling never leaves a file behind.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from engine.devices import resolve_device
from engine.train import strategies as S
from engine.train.checkpoint import ClassifierCheckpoint, make_checkpoint, save_classifier
from engine.train.dataset import DatasetReport
from engine.train.loop import EpochCallback, Evaluation, FitResult, ProgressTracker, extract_features, fit
from engine.train.results import Results, summarise
from engine.train.scratch import DEFAULT_IMAGE_SIZE, scratch_defaults
from engine.train.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    ImageDataset,
    eval_transform,
    train_transform,
)
from engine.types import CancelToken, ProgressCallback

MAX_PATHS_PER_CELL = 100  # misclassified paths kept per (true, predicted) cell in the model file


@dataclass(frozen=True)
class TrainConfig:
    strategy: str = S.DEFAULT_STRATEGY
    backbone: str = S.DEFAULT_BACKBONE
    epochs: Optional[int] = None  # None: strategies.DEFAULT_EPOCHS[strategy]
    batch_size: int = 32
    lr: Optional[float] = None  # None: strategies.default_lr(strategy, optimizer)
    optimizer: str = "adamw"
    schedule: str = "cosine"
    weight_decay: float = 1e-4
    patience: Optional[int] = 5  # epochs without a lower validation loss; None or 0: never stop
    seed: int = 0
    image_size: Optional[int] = None  # None: 224; scratch: the images' own size when smaller (scratch.py)
    warm_start_epochs: int = 0  # finetune: encoder frozen for the first epochs
    warmup_epochs: Optional[int] = None  # linear LR warm-up; None: 0, scratch about 5% of the run
    layer_decay: Optional[float] = None  # finetune: each earlier stage's LR times this (e.g. 0.5)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    balanced: bool = False  # class-balanced sampling (WeightedRandomSampler)
    device: str = "auto"
    workers: int = 0  # DataLoader worker processes
    amp: bool = True  # mixed precision, on CUDA only
    allow_download: bool = False  # fetch missing ImageNet weights
    cache_images: bool = True  # keep decoded images in memory (up to a budget)
    name: str = ""  # the model's name; default: folder name and backbone

    def resolved(self, report: Optional[DatasetReport] = None) -> "TrainConfig":
        """A copy with defaults filled in (for scratch, from the data in `report` when given:
        see scratch.py); ValueError naming the option that is wrong."""
        if report is not None:
            self = scratch_defaults(self, report)
        _choice("strategy", self.strategy, S.STRATEGIES)
        _choice("backbone", self.backbone, S.BACKBONES)
        _choice("optimizer", self.optimizer, S.OPTIMIZERS)
        _choice("schedule", self.schedule, S.SCHEDULES)
        epochs = self.epochs if self.epochs is not None else S.DEFAULT_EPOCHS[self.strategy]
        lr = self.lr if self.lr is not None else S.default_lr(self.strategy, self.optimizer)
        image_size = self.image_size if self.image_size is not None else DEFAULT_IMAGE_SIZE
        warmup = self.warmup_epochs or 0
        for name, value, low in (("epochs", epochs, 1), ("batch size", self.batch_size, 1),
                                 ("image size", image_size, 16), ("workers", self.workers, 0),
                                 ("warm start epochs", self.warm_start_epochs, 0), ("warm-up epochs", warmup, 0)):  # fmt: skip
            if value < low:
                raise ValueError(f"{name} must be at least {low} (got {value})")
        if lr <= 0 or self.weight_decay < 0:
            raise ValueError("the learning rate must be positive and the weight decay not negative")
        if self.strategy != "finetune" and (self.warm_start_epochs or self.layer_decay not in (None, 1.0)):
            raise ValueError("warm start and layer-wise LR decay apply to the finetune strategy only")
        if self.layer_decay is not None and not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer decay must be in (0, 1] (got {self.layer_decay})")
        return replace(self, epochs=epochs, lr=lr, image_size=image_size, warmup_epochs=warmup)

    def to_dict(self) -> dict:
        return asdict(self)


def _choice(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} '{value}': choose one of {', '.join(allowed)}")


@dataclass
class TrainResult:
    model: nn.Module  # eval mode, holding the best epoch's weights
    checkpoint: ClassifierCheckpoint
    results: Results  # on the validation images
    fit: FitResult
    config: TrainConfig  # resolved
    report: DatasetReport
    seconds: float

    def save(self, path: Optional[str | Path] = None) -> Path:
        """Write the model file atomically (default: a new file in the user models folder)."""
        return save_classifier(self.checkpoint, path)


# ---------------------------------------------------------------------------- data


def _loader(dataset, cfg: TrainConfig, device, shuffle=False, sampler=None, generator=None) -> DataLoader:
    single_last = shuffle and len(dataset) % cfg.batch_size == 1 and len(dataset) > 1
    workers = 0 if isinstance(dataset, TensorDataset) else cfg.workers  # stored features need none
    return DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        num_workers=workers, generator=generator, pin_memory=device.type == "cuda",
        persistent_workers=workers > 0, drop_last=single_last,  # a batch of one breaks BatchNorm
    )  # fmt: skip


def _balanced_sampler(report: DatasetReport, generator: torch.Generator) -> WeightedRandomSampler:
    counts = report.train_counts()
    weights = torch.tensor([1.0 / counts[s.label] for s in report.train], dtype=torch.double)
    return WeightedRandomSampler(weights, len(weights), replacement=True, generator=generator)


def _image_loaders(report: DatasetReport, cfg: TrainConfig, device, for_features: bool = False):
    """Training images (augmented, shuffled or class-balanced) and validation images; for
    feature extraction, both in order and without augmentation."""
    size = cfg.image_size
    augment = cfg.augment.enabled and not for_features
    train_tf = train_transform(size, cfg.augment) if augment else eval_transform(size)
    train_set = ImageDataset(report.train, train_tf, size, cfg.cache_images)
    val_set = ImageDataset(report.val, eval_transform(size), size, cfg.cache_images)
    if for_features:
        return _loader(train_set, cfg, device), _loader(val_set, cfg, device)
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler = _balanced_sampler(report, generator) if cfg.balanced else None
    train = _loader(train_set, cfg, device, shuffle=True, sampler=sampler, generator=generator)
    return train, _loader(val_set, cfg, device)


# ---------------------------------------------------------------------------- strategies


def _optimizer(model: nn.Module, cfg: TrainConfig):
    if cfg.strategy == "probe-frozen":
        groups = [{"params": list(model.fc.parameters()), "lr": cfg.lr, "name": "fc"}]
    else:
        groups = S.param_groups(model, cfg.lr, cfg.layer_decay if cfg.strategy == "finetune" else None)
    optimizer = S.make_optimizer(cfg.optimizer, groups, cfg.weight_decay)
    return optimizer, S.make_scheduler(cfg.schedule, optimizer, cfg.epochs, cfg.warmup_epochs)


def _train_images(model, report, cfg, device, progress, on_epoch, cancel, stop) -> FitResult:
    train, val = _image_loaders(report, cfg, device)
    tracker = ProgressTracker(cfg.epochs * (len(train) + len(val)), progress, cancel)
    if cfg.strategy == "probe-frozen":
        S.set_encoder_frozen(model, True)
    frozen_epochs = {"probe-frozen": cfg.epochs, "finetune": cfg.warm_start_epochs}.get(cfg.strategy, 0)
    optimizer, scheduler = _optimizer(model, cfg)
    return fit(model, train, val, optimizer, scheduler, device, cfg.epochs, cfg.patience, frozen_epochs,
               cfg.amp, tracker, on_epoch, stop)  # fmt: skip


def _feature_loaders(model, report, cfg, device, tracker):
    train_images, val_images = _image_loaders(report, cfg, device, for_features=True)
    tracker.total += len(train_images) + len(val_images)
    message = "extracting features ({} images)"
    train_x, train_y = extract_features(model, train_images, device, cfg.amp, tracker, message.format("training"))
    val_x, val_y = extract_features(model, val_images, device, cfg.amp, tracker, message.format("validation"))
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler = _balanced_sampler(report, generator) if cfg.balanced else None
    train = _loader(TensorDataset(train_x, train_y), cfg, device, shuffle=True, sampler=sampler, generator=generator)
    return train, _loader(TensorDataset(val_x, val_y), cfg, device)


def _train_features(model, report, cfg, device, progress, on_epoch, cancel, stop) -> FitResult:
    """Linear probe: the frozen encoder runs once; the last layer learns from stored features."""
    S.set_encoder_frozen(model, True)
    tracker = ProgressTracker(0, progress, cancel)
    train, val = _feature_loaders(model, report, cfg, device, tracker)
    tracker.total += cfg.epochs * (len(train) + len(val))
    optimizer, scheduler = _optimizer(model.fc, cfg)
    frozen = None if on_epoch is None else (lambda m: on_epoch(replace(m, encoder_frozen=True)))
    return fit(model.fc, train, val, optimizer, scheduler, device, cfg.epochs, cfg.patience, 0,
               cfg.amp, tracker, frozen, stop)  # fmt: skip


# ---------------------------------------------------------------------------- the whole job


def _metrics(fit_result: FitResult, results: Results, report: DatasetReport, cfg: TrainConfig, seconds: float) -> dict:
    summary = results.to_dict()
    summary["misclassified"] = [[t, p, paths[:MAX_PATHS_PER_CELL]] for t, p, paths in summary["misclassified"]]
    config = cfg.to_dict()
    return {
        "val_accuracy": results.accuracy, "val_loss": fit_result.best_val_loss,
        "best_epoch": fit_result.best_epoch, "epochs_run": len(fit_result.history),
        "stop_reason": fit_result.stop_reason, "history": [m.to_dict() for m in fit_result.history],
        "train_images": len(report.train), "val_images": len(report.val), "dataset": report.root,
        "seconds": seconds, "config": config, **summary,
    }  # fmt: skip


def train_classifier(
    report: DatasetReport,
    config: TrainConfig = TrainConfig(),
    progress: Optional[ProgressCallback] = None,
    on_epoch: Optional[EpochCallback] = None,
    cancel: Optional[CancelToken] = None,
    stop: Optional[CancelToken] = None,
) -> TrainResult:
    """Train a classifier on a scanned folder (see `scan_dataset`).

    `progress` gets a Progress after every batch (overall batches; message names the phase),
    `on_epoch` an EpochMetrics after every epoch. Setting `cancel` raises Cancelled at the next
    batch; setting `stop` ends training at the next batch and keeps the best epoch so far.
    Raises ValueError for bad options, WeightsMissing when ImageNet weights are needed and
    absent, DeviceError for a device this machine lacks.
    """
    began = time.perf_counter()
    cfg = config.resolved(report)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = S.build_model(cfg.backbone, len(report.class_names), S.uses_imagenet(cfg.strategy),
                          cfg.allow_download, progress, cancel).to(device)  # fmt: skip
    job = _train_features if cfg.strategy == "probe-features" else _train_images
    fit_result = job(model, report, cfg, device, progress, on_epoch, cancel, stop)
    best: Evaluation = fit_result.best_evaluation
    results = summarise(best.predictions, best.targets, [s.path for s in report.val], report.class_names)
    model.eval()
    seconds = time.perf_counter() - began
    checkpoint = make_checkpoint(
        model, cfg.backbone, report.class_names, cfg.image_size, IMAGENET_MEAN, IMAGENET_STD, cfg.strategy,
        _metrics(fit_result, results, report, cfg, seconds), cfg.name or f"{Path(report.root).name}-{cfg.backbone}",
    )  # fmt: skip
    return TrainResult(model, checkpoint, results, fit_result, cfg, report, seconds)
