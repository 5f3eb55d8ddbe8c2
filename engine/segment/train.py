"""Training the segmenter: random augmented crops, weighted cross-entropy plus soft Dice, AdamW
with a cosine schedule, validation mean IoU after every epoch, early stopping, and the best
epoch's weights kept. One training epoch is `train_one_epoch` from engine.train.loop (the
classifier's loop); progress and cancellation follow its contract: `progress(Progress)` after
every batch, a `cancel` token that aborts (Cancelled), a `stop` token that ends after the
current batch and keeps the best epoch, `on_epoch(SegmenterEpoch)` after every epoch. Nothing
here prints.
"""

from __future__ import annotations

import math
import time
import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, RandomSampler

from engine.devices import resolve_device
from engine.segment import metrics
from engine.segment.augment import MEAN, STD, CropDataset, WholeDataset
from engine.segment.calibrate import choose_background_bias
from engine.segment.data import IGNORE, DataError, SegmentationData, split
from engine.segment.model_file import SegmenterFile, make_segmenter_file
from engine.segment.unet import UNet
from engine.train.loop import ProgressTracker, train_one_epoch
from engine.types import CancelToken, ProgressCallback


@dataclass(frozen=True)
class SegmenterSettings:
    epochs: int = 100
    image_size: int = 320  # the working size's longer side, in pixels
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 20  # epochs without a better validation mean IoU (0: never stop early)
    val_fraction: float = 0.2
    seed: int = 0
    # 8-16-32-64-64-64 channels, five poolings after a stride-2 stem (1/64 at the bottleneck):
    # a circle is told from a square only by its outline, so the deep levels must see whole
    # shapes; at two fifths of the CPU time per step of 16 base channels and four poolings,
    # which found the shapes but did not learn to tell them apart in the time given (issue 15)
    base: int = 8  # channels of the first U-Net level
    depth: int = 5
    stem_stride: int = 2
    dice: float = 1.0  # weight of the soft Dice loss beside the cross-entropy (0: cross-entropy only)
    samples_per_epoch: int = 256  # crops per epoch (small folders are cycled through)
    max_minutes: Optional[float] = None  # stop after the epoch that passes this, keep the best
    device: str = "auto"
    name: str = "segmenter"

    @property
    def crop(self) -> int:
        """The training crop's side: half the working size rounded up to the network's stride,
        so the largest shapes fit whole in most crops."""
        multiple = 2**self.depth * self.stem_stride
        return max(multiple, -(-(self.image_size // 2) // multiple) * multiple)


@dataclass(frozen=True)
class SegmenterEpoch:
    epoch: int
    epochs: int
    train_loss: float
    train_pixel_accuracy: float
    val_mean_iou: float  # over the object classes, background left out
    val_foreground_iou: float
    val_iou: dict  # class name -> IoU (None: neither present nor predicted)
    lr: float
    seconds: float
    best: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SegmenterTraining:
    file: SegmenterFile
    history: list[SegmenterEpoch] = field(default_factory=list)
    best_epoch: int = 0
    stop_reason: str = "completed"  # or "early stopping", "time limit", "stopped by request"
    train_images: int = 0
    val_images: int = 0


def class_weights(pixel_counts: np.ndarray) -> torch.Tensor:
    """Inverse square-root frequency, mean 1: rare classes count more, background less."""
    freq = pixel_counts / max(1, pixel_counts.sum())
    floor = freq[freq > 0].min() if (freq > 0).any() else 1.0
    weights = 1.0 / np.sqrt(np.maximum(freq, floor))
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def soft_dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - the mean over classes of the soft Dice coefficient over the batch (IGNORE pixels
    left out): every class counts alike however few pixels it has, like the mean IoU."""
    keep = (targets != IGNORE).unsqueeze(1).to(logits.dtype)
    probs = logits.float().softmax(1) * keep
    onehot = F.one_hot(targets.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2) * keep
    overlap, total = (probs * onehot).sum((0, 2, 3)), (probs + onehot).sum((0, 2, 3))
    return 1 - ((2 * overlap + 1) / (total + 1)).mean()


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def segmentation_loss(weights: Optional[torch.Tensor], dice: float) -> Loss:
    """Class-weighted cross-entropy plus `dice` times the soft Dice loss."""
    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        value = F.cross_entropy(logits, targets, weight=weights, ignore_index=IGNORE)
        return value + dice * soft_dice_loss(logits, targets) if dice else value
    return loss


def validate(model: UNet, loader, device: torch.device, class_names, tracker: Optional[ProgressTracker] = None,
             message: str = "validating") -> dict:
    """metrics.summary of the model's predictions over `loader` (model in eval mode)."""
    model.eval()
    confusion = metrics.Confusion(len(class_names))
    with torch.inference_mode():
        for inputs, targets in loader:
            predicted = model(inputs.to(device)).argmax(1).cpu().numpy()
            for truth, guess in zip(targets.numpy(), predicted):
                confusion.add(truth, guess)
            if tracker is not None:
                tracker.step(message)
    return metrics.summary(confusion, class_names)


def _loaders(data: SegmentationData, settings: SegmenterSettings, multiple: int):
    if not data.samples:
        raise DataError("no usable training images")
    train, val = split(data.samples, settings.val_fraction, settings.seed)
    crops = CropDataset(train, settings.image_size, settings.crop)
    sampler = RandomSampler(crops, num_samples=max(settings.samples_per_epoch, len(train)))
    train_loader = DataLoader(crops, batch_size=settings.batch_size, sampler=sampler, drop_last=False)
    val_loader = DataLoader(WholeDataset(val or train, settings.image_size, multiple), batch_size=1)
    return train, val, train_loader, val_loader


def learning_rate(settings: SegmenterSettings, epoch: int, elapsed: float) -> float:
    """A third of the rate for the first epoch, then a cosine decay to zero over the planned
    epochs, or over the time limit when that comes first (so a timed run still anneals)."""
    if epoch == 1:
        return settings.lr / 3
    done = (epoch - 1) / settings.epochs
    if settings.max_minutes:
        done = max(done, elapsed / (settings.max_minutes * 60))
    return settings.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def train_segmenter(data: SegmentationData, settings: SegmenterSettings = SegmenterSettings(),
                    progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
                    stop: Optional[CancelToken] = None,
                    on_epoch: Optional[Callable[[SegmenterEpoch], None]] = None) -> SegmenterTraining:
    """Train a U-Net on `data`; the returned file holds the best epoch's weights and metrics."""
    torch.manual_seed(settings.seed)
    device = resolve_device(settings.device)
    model = UNet(len(data.class_names), settings.base, settings.depth, settings.stem_stride).to(device)
    train, val, train_loader, val_loader = _loaders(data, settings, model.pad_multiple)
    weights = class_weights(data.pixel_counts()).to(device)
    loss_fn = segmentation_loss(weights, settings.dice)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    tracker = ProgressTracker(settings.epochs * (len(train_loader) + len(val_loader)), progress, cancel)
    run = _Run(model, data.class_names, settings)
    began = time.monotonic()
    should_stop = lambda: run.best_state is not None and stop is not None and stop.cancelled  # noqa: E731
    for epoch in range(1, settings.epochs + 1):
        started, prefix = time.perf_counter(), f"epoch {epoch}/{settings.epochs}"
        lr = learning_rate(settings, epoch, time.monotonic() - began)
        for group in optimizer.param_groups:
            group["lr"] = lr
        trained = train_one_epoch(model, train_loader, optimizer, device, amp=True, tracker=tracker,
                                  message=f"{prefix}: training", should_stop=should_stop, loss_fn=loss_fn)
        if trained is None:
            run.stop_reason = "stopped by request"
            break
        scores = validate(model, val_loader, device, data.class_names, tracker, f"{prefix}: validating")
        record = run.record(epoch, trained, scores, lr, time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(record)
        if run.finished(epoch, stop, began):
            break
    tracker.skip(tracker.total - tracker.done)
    return calibrated(run.result(train, val), val, settings.device, cancel)


def calibrated(training: SegmenterTraining, val, device: str, cancel: Optional[CancelToken]) -> SegmenterTraining:
    """`training` with its file's background bias chosen on the validation images (none without
    them: the training images would only flatter it); the metrics add the validation figures
    at the images' own size without and with it."""
    if not val:
        return training
    bias, scores = choose_background_bias(training.file, val, device, cancel=cancel)
    found = {**training.file.metrics, "background_bias": bias,
             "at_own_size": {"without_bias": scores.get(0.0, {}), "with_bias": scores[bias]}}
    training.file = dataclasses.replace(training.file, background_bias=bias, metrics=found)
    return training


class _Run:
    """The epochs so far, the best one's weights, and why training ended."""

    def __init__(self, model: UNet, class_names, settings: SegmenterSettings):
        self.model, self.class_names, self.settings = model, tuple(class_names), settings
        self.history: list[SegmenterEpoch] = []
        self.best_state, self.best_score, self.best_scores, self.best_epoch, self.since = None, -1.0, {}, 0, 0
        self.stop_reason = "completed"

    def record(self, epoch: int, trained, scores: dict, lr: float, seconds: float) -> SegmenterEpoch:
        score = scores["mean_iou"] if not math.isnan(scores["mean_iou"]) else scores["pixel_accuracy"]
        improved = not math.isnan(score) and score > self.best_score
        if improved:
            self.best_score, self.best_scores, self.best_epoch, self.since = score, scores, epoch, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        else:
            self.since += 1
        entry = SegmenterEpoch(epoch, self.settings.epochs, trained[0], trained[1], scores["mean_iou"],
                               scores["foreground_iou"], scores["iou"], lr, seconds, improved)
        self.history.append(entry)
        return entry

    def finished(self, epoch: int, stop: Optional[CancelToken], began: float) -> bool:
        settings = self.settings
        if stop is not None and stop.cancelled:
            self.stop_reason = "stopped by request"
        elif settings.patience and self.since >= settings.patience and epoch < settings.epochs:
            self.stop_reason = "early stopping"
        elif settings.max_minutes and time.monotonic() - began > settings.max_minutes * 60 and epoch < settings.epochs:
            self.stop_reason = "time limit"
        else:
            return False
        return True

    def result(self, train, val) -> SegmenterTraining:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        settings = self.settings
        found = {"best_epoch": self.best_epoch, "stop_reason": self.stop_reason,
                 "validation": "held-out images" if val else "the training images (too few to hold any out)",
                 "train_images": len(train), "val_images": len(val), **self.best_scores,
                 "history": [e.to_dict() for e in self.history],
                 "settings": {k: v for k, v in asdict(settings).items() if k != "name"}}  # fmt: skip
        file = make_segmenter_file(self.model.cpu(), self.class_names, settings.image_size, MEAN, STD, found, settings.name)
        return SegmenterTraining(file, self.history, self.best_epoch, self.stop_reason, len(train), len(val))
