"""The training loop: train_one_epoch / evaluate / fit, in the shape of torchvision's reference
scripts, plus feature extraction for the linear probe.

Long work reports `Progress` after every batch through a `ProgressTracker` (overall batches
done out of the planned total; `message` names the phase) and checks its CancelToken there,
raising `Cancelled`. `fit` also calls `on_epoch(EpochMetrics)` after every epoch, so a front
end can draw live curves, and honours a separate `stop` token: stop now and keep the best
epoch's weights (once at least one epoch has finished). Nothing here prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.devices import autocast_context
from engine.train import strategies
from engine.types import CancelToken, Progress, ProgressCallback

EpochCallback = Callable[["EpochMetrics"], None]


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    epochs: int  # planned
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float  # of the last layer, during this epoch
    seconds: float
    encoder_frozen: bool
    best: bool  # the lowest validation loss so far

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    history: list[EpochMetrics] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stop_reason: str = "completed"  # "completed", "early stopping" or "stopped by request"
    best_evaluation: Optional["Evaluation"] = None  # validation logits of the best epoch


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    logits: np.ndarray  # (N, C) float32
    targets: np.ndarray  # (N,) int64

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(1) if len(self.logits) else np.zeros(0, np.int64)


class ProgressTracker:
    """Counts batches over a whole job, reports Progress and checks for cancellation."""

    def __init__(self, total: int, callback: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None):
        self.total, self.done = total, 0
        self.callback, self.cancel = callback, cancel
        self.began = time.monotonic()

    def check(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def step(self, message: str) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        if self.callback is not None:
            self.callback(Progress(self.done, self.total, message, time.monotonic() - self.began))
        self.check()

    def skip(self, count: int) -> None:
        """Batches that were planned and will not run (epochs cut short)."""
        self.total = max(self.done, self.total - max(0, count))


def _scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")


def train_one_epoch(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scaler: Optional[torch.amp.GradScaler] = None,
    amp: bool = True,
    tracker: Optional[ProgressTracker] = None,
    message: str = "training",
    should_stop: Callable[[], bool] = lambda: False,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> Optional[tuple[float, float]]:
    """(mean loss, accuracy) over the epoch, or None when `should_stop()` cut it short.

    Targets are class indices: one per input (classification) or one per pixel
    (segmentation); accuracy counts the targets that name a class (not an ignore value)."""
    strategies.set_training_mode(model)
    scaler = scaler or _scaler(device, amp)
    total_loss, correct, seen, examples = 0.0, 0, 0, 0
    for inputs, targets in loader:
        if should_stop():
            return None
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with autocast_context(device, amp):
            logits = model(inputs)
            loss = loss_fn(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total_loss += float(loss.detach()) * len(targets)
        named = (targets >= 0) & (targets < logits.shape[1])
        correct += int(((logits.argmax(1) == targets) & named).sum())
        seen += int(named.sum())
        examples += len(targets)
        if tracker is not None:
            tracker.step(message)
    return total_loss / max(1, examples), correct / max(1, seen)


def _forward_all(model: nn.Module, forward, loader, device: torch.device, amp: bool,
                 tracker: Optional[ProgressTracker], message: str) -> tuple[list, list]:
    """`forward` over every batch of `loader`, model in eval mode, no gradients:
    (float32 outputs on the CPU, int64 labels), one tensor per batch."""
    model.eval()
    outputs, labels = [], []
    with torch.inference_mode():
        for inputs, targets in loader:
            with autocast_context(device, amp):
                out = forward(inputs.to(device, non_blocking=True))
            outputs.append(out.float().cpu())
            labels.append(targets.cpu().long())
            if tracker is not None:
                tracker.step(message)
    return outputs, labels


def evaluate(
    model: nn.Module,
    loader,
    device: torch.device,
    amp: bool = True,
    tracker: Optional[ProgressTracker] = None,
    message: str = "validating",
) -> Evaluation:
    """Loss, accuracy and every logit over `loader` (model in eval mode, no gradients)."""
    logits, targets = _forward_all(model, model, loader, device, amp, tracker, message)
    if not logits:
        return Evaluation(math.nan, math.nan, np.zeros((0, 0), np.float32), np.zeros(0, np.int64))
    all_logits, all_targets = torch.cat(logits), torch.cat(targets)
    loss = float(F.cross_entropy(all_logits, all_targets))
    accuracy = float((all_logits.argmax(1) == all_targets).float().mean())
    return Evaluation(loss, accuracy, all_logits.numpy(), all_targets.numpy())


def extract_features(
    model: nn.Module,
    loader,
    device: torch.device,
    amp: bool = True,
    tracker: Optional[ProgressTracker] = None,
    message: str = "extracting features",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, D) float32 on the CPU, labels (N,)) from the encoder in eval mode."""
    encode = lambda inputs: strategies.encode(model, inputs)  # noqa: E731
    features, labels = _forward_all(model, encode, loader, device, amp, tracker, message)
    return torch.cat(features), torch.cat(labels)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[-1]["lr"])


class _Best:
    """The epoch with the lowest validation loss so far, and its weights."""

    def __init__(self, result: FitResult):
        self.result, self.state, self.since = result, None, 0

    def update(self, model: nn.Module, epoch: int, val: Evaluation) -> bool:
        if val.loss < self.result.best_val_loss:
            self.state, self.since = _snapshot(model), 0
            self.result.best_epoch, self.result.best_val_loss, self.result.best_evaluation = epoch, val.loss, val
            return True
        self.since += 1
        if self.state is None:  # no finite loss yet: the latest epoch stands in
            self.result.best_epoch, self.result.best_evaluation = epoch, val
        return False

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def _set_frozen_for_epoch(model: nn.Module, epoch: int, freeze_encoder_epochs: int) -> bool:
    if freeze_encoder_epochs and isinstance(model, strategies.ResNet):
        strategies.set_encoder_frozen(model, epoch <= freeze_encoder_epochs)
    return strategies.encoder_frozen(model)


def fit(
    model: nn.Module,
    train_loader,
    val_loader,
    optimizer: torch.optim.Optimizer,
    scheduler,
    device: torch.device,
    epochs: int,
    patience: Optional[int] = None,
    freeze_encoder_epochs: int = 0,
    amp: bool = True,
    tracker: Optional[ProgressTracker] = None,
    on_epoch: Optional[EpochCallback] = None,
    stop: Optional[CancelToken] = None,
) -> FitResult:
    """Train for `epochs`, validating after each; leave the model holding the weights of the
    epoch with the lowest validation loss.

    `patience`: stop after that many epochs without a lower validation loss (None/0: never).
    `freeze_encoder_epochs`: a ResNet's encoder is frozen for epochs 1..k and then unfrozen
    (warm start); k >= epochs keeps it frozen throughout (probe-frozen).
    """
    result = FitResult()
    best, scaler = _Best(result), _scaler(device, amp)
    planned_end = (tracker.done if tracker else 0) + epochs * (len(train_loader) + len(val_loader))
    should_stop = lambda: best.state is not None and stop is not None and stop.cancelled  # noqa: E731
    for epoch in range(1, epochs + 1):
        began, prefix = time.perf_counter(), f"epoch {epoch}/{epochs}"
        frozen, lr = _set_frozen_for_epoch(model, epoch, freeze_encoder_epochs), _current_lr(optimizer)
        trained = train_one_epoch(model, train_loader, optimizer, device, scaler, amp, tracker,
                                  f"{prefix}: training", should_stop)  # fmt: skip
        if trained is None:
            result.stop_reason = "stopped by request"
            break
        val = evaluate(model, val_loader, device, amp, tracker, f"{prefix}: validating")
        scheduler.step()
        improved = best.update(model, epoch, val)
        metrics = EpochMetrics(epoch, epochs, trained[0], trained[1], val.loss, val.accuracy, lr,
                               time.perf_counter() - began, frozen, improved)  # fmt: skip
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        if stop is not None and stop.cancelled:
            result.stop_reason = "stopped by request"
            break
        if patience and best.since >= patience and epoch < epochs:
            result.stop_reason = "early stopping"
            break
    if tracker is not None:
        tracker.skip(planned_end - tracker.done)
    best.restore(model)
    return result
