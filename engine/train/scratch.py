"""Defaults that let training from scratch converge on small data sets.

A run is measured in optimiser steps, not epochs: 15 epochs of 96 images at batch 32 are only
45 steps, far too few for a randomly initialised ResNet, while the same 15 epochs of 100,000
images are plenty. So when no epoch count is given, scratch trains for about SCRATCH_STEPS
steps (at least DEFAULT_EPOCHS["scratch"] epochs), with a linear learning-rate warm-up over
the first WARMUP_SHARE of them (a random network's first large updates are what derail it),
and early stopping waits a PATIENCE_SHARE of the run rather than a fixed five epochs. When no
image size is given, small images are trained at their own size (the next of SIZES at or
above the typical shorter side) instead of being blown up to 224 px: the same information at
a fraction of the cost per step.

    config = scratch_defaults(config, report)   # before config.resolved(); no-op for other strategies
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import median

from PIL import Image

from engine.train import strategies as S
from engine.train.dataset import DatasetReport

SCRATCH_STEPS = 300
WARMUP_SHARE = 0.05
PATIENCE_SHARE = 0.25
SIZES = (32, 64, 96, 128, 160, 192, 224)
DEFAULT_IMAGE_SIZE = 224
SIZE_SAMPLE = 64  # images whose size is read (headers only) to find the typical side


def typical_side(report: DatasetReport, sample: int = SIZE_SAMPLE) -> int | None:
    """The median shorter side of (up to `sample` of) the training images; None if none open."""
    samples = report.train
    step = max(1, len(samples) // sample)
    sides = []
    for path, _label in samples[::step][:sample]:
        try:
            with Image.open(path) as image:
                sides.append(min(image.size))
        except OSError:
            continue
    return int(median(sides)) if sides else None


def image_size_for(side: int | None) -> int:
    """The input size for images whose shorter side is `side`: the next of SIZES at or above
    it, DEFAULT_IMAGE_SIZE for large (or unknown) images."""
    if side is None:
        return DEFAULT_IMAGE_SIZE
    return next((size for size in SIZES if size >= side), DEFAULT_IMAGE_SIZE)


def scratch_epochs(train_images: int, batch_size: int, drop_last: bool = False) -> int:
    """Epochs for about SCRATCH_STEPS optimiser steps (at least the strategy's default)."""
    per_epoch = max(1, train_images // batch_size if drop_last else math.ceil(train_images / batch_size))
    return max(S.DEFAULT_EPOCHS["scratch"], math.ceil(SCRATCH_STEPS / per_epoch))


def scratch_defaults(config, report: DatasetReport):
    """`config` (a TrainConfig) with the scratch defaults filled in where the user left them
    open (epochs, image size, warm-up) and patience stretched to the run; unchanged for the
    other strategies and for what the user set."""
    if config.strategy != "scratch":
        return config
    changes = {}
    if config.image_size is None:
        changes["image_size"] = image_size_for(typical_side(report))
    if config.epochs is None:
        epochs = scratch_epochs(len(report.train), config.batch_size)
        changes["epochs"] = epochs
        if config.patience:
            changes["patience"] = max(config.patience, math.ceil(PATIENCE_SHARE * epochs))
    epochs = changes.get("epochs", config.epochs)
    if config.warmup_epochs is None:
        changes["warmup_epochs"] = max(1, round(WARMUP_SHARE * epochs))
    return replace(config, **changes)
