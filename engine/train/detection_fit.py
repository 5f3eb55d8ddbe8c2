"""The detector's training loop, in the shape of `engine.train.loop` (and torchvision's
detection reference): `train_one_epoch` sums the model's loss dict, steps SGD and a
per-iteration schedule (linear warm-up, cosine decay); `fit_detector` validates after each
epoch (box AP50 on held-out images), keeps the best epoch's weights and restores them.

It honours the same contract as the classifier's `fit`: a `ProgressTracker` gets every batch
and checks the cancel token (raising `Cancelled`); `stop` ends training early keeping the best
epoch (once one has finished); `on_epoch` gets each epoch's figures for live curves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from engine.devices import autocast_context
from engine.train import detection_model as DM
from engine.train.loop import ProgressTracker, _scaler, _snapshot
from engine.types import CancelToken


class TrainingDiverged(ValueError):
    """The loss became infinite or NaN; the message suggests what to change."""


@dataclass(frozen=True)
class DetectorEpoch:
    epoch: int  # 1-based
    epochs: int
    train_loss: float  # mean of the summed loss over the epoch's iterations
    losses: dict  # mean of each part (loss_classifier, loss_box_reg, loss_mask, ...)
    val_ap50: float | None  # box AP50 on the held-out images (None: not evaluated)
    lr: float  # at the end of the epoch
    seconds: float
    backbone_frozen: bool
    best: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DetectorFit:
    history: list[DetectorEpoch] = field(default_factory=list)
    best_epoch: int = 0
    best_ap50: float | None = None
    stop_reason: str = "completed"  # or "stopped by request"
    iterations: int = 0


def warmup_cosine(total: int, warmup: int) -> Callable[[int], float]:
    """The learning-rate factor at iteration i: linear warm-up from 0.1%, then cosine to 0."""
    warmup = min(warmup, max(0, total - 1))

    def factor(i: int) -> float:
        if i < warmup:
            return 0.001 + 0.999 * i / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (i - warmup) / max(1, total - warmup))))

    return factor


def train_one_epoch(model: nn.Module, loader, optimizer, scheduler, device: torch.device, scaler, amp: bool,
                    tracker: ProgressTracker | None, message: str, should_stop: Callable[[], bool]):
    """(mean summed loss, mean of each loss) over the epoch, or None when cut short."""
    DM.set_training_mode(model)
    totals: dict[str, float] = {}
    steps = 0
    for images, targets in loader:
        if should_stop():
            return None
        images = [i.to(device, non_blocking=True) for i in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        with autocast_context(device, amp):
            losses = model(images, targets)
        loss = sum(losses.values())
        if not math.isfinite(float(loss.detach())):
            raise TrainingDiverged(f"the training loss became {float(loss.detach())} at {message}; "
                                   f"try a lower learning rate (--lr)")  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        for key, value in losses.items():
            totals[key] = totals.get(key, 0.0) + float(value.detach())
        steps += 1
        if tracker is not None:
            tracker.step(message)
    means = {k: v / max(1, steps) for k, v in totals.items()}
    return sum(means.values()), means


def fit_detector(model: nn.Module, train_loader, validate: Callable[[str], float] | None, optimizer, scheduler,
                 device: torch.device, epochs: int, warm_start_epochs: int = 0, eval_every: int = 1,
                 amp: bool = True, tracker: ProgressTracker | None = None,
                 on_epoch: Callable[[DetectorEpoch], None] | None = None,
                 stop: CancelToken | None = None) -> DetectorFit:
    """Train for `epochs`; with `validate(message)` (returning box AP50), leave the model holding the
    weights of the epoch with the highest AP50. `warm_start_epochs`: the backbone is frozen
    for epochs 1..k. Validation runs every `eval_every` epochs and after the last."""
    result, scaler = DetectorFit(), _scaler(device, amp)
    best_state, finished = None, 0

    def should_stop() -> bool:
        return finished > 0 and stop is not None and stop.cancelled

    for epoch in range(1, epochs + 1):
        began = time.perf_counter()
        frozen = epoch <= warm_start_epochs
        DM.set_backbone_frozen(model, frozen)
        trained = train_one_epoch(model, train_loader, optimizer, scheduler, device, scaler, amp, tracker,
                                  f"epoch {epoch}/{epochs}: training", should_stop)  # fmt: skip
        if trained is None:
            result.stop_reason = "stopped by request"
            break
        finished = epoch
        result.iterations += len(train_loader)
        stopping = stop is not None and stop.cancelled
        ap50 = None
        if validate is not None and (epoch % eval_every == 0 or epoch == epochs or stopping):
            ap50 = validate(f"epoch {epoch}/{epochs}: validating")
        improved = ap50 is not None and (result.best_ap50 is None or ap50 > result.best_ap50)
        if improved:
            best_state, result.best_epoch, result.best_ap50 = _snapshot(model), epoch, ap50
        elif validate is None:
            result.best_epoch = epoch
        metrics = DetectorEpoch(epoch, epochs, trained[0], trained[1], ap50, float(optimizer.param_groups[0]["lr"]),
                                time.perf_counter() - began, frozen, improved)  # fmt: skip
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        if stopping:
            result.stop_reason = "stopped by request"
            break
    DM.set_backbone_frozen(model, False)
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
