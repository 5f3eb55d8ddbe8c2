"""Intersection over union from a confusion matrix of class maps.

`Confusion` accumulates (true class, predicted class) pixel counts over many maps, IGNORE
pixels left out. Per-class IoU = TP / (TP + FP + FN); a class that is neither present nor
predicted has no IoU (NaN) and is left out of means. Foreground IoU treats every class but
background (index 0) as one: "is this pixel part of any object".
"""

from __future__ import annotations

import math

import numpy as np

from engine.segment.data import IGNORE


class Confusion:
    def __init__(self, num_classes: int):
        self.matrix = np.zeros((num_classes, num_classes), np.int64)

    def add(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        n = len(self.matrix)
        keep = truth != IGNORE
        pairs = truth[keep].astype(np.int64) * n + predicted[keep].astype(np.int64)
        self.matrix += np.bincount(pairs, minlength=n * n)[: n * n].reshape(n, n)

    def iou(self) -> np.ndarray:
        """(num_classes,) float64, NaN for a class neither present nor predicted."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / np.maximum(union, 1), np.nan)

    def foreground_iou(self) -> float:
        fg_true, fg_pred = self.matrix[1:, :].sum(1), self.matrix[:, 1:].sum(0)
        both = self.matrix[1:, 1:].sum()
        union = fg_true.sum() + fg_pred.sum() - both
        return float(both / union) if union else math.nan

    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else math.nan


def mean_iou(values) -> float:
    """Mean of the finite values (NaN when there are none)."""
    finite = [float(v) for v in values if not math.isnan(float(v))]
    return sum(finite) / len(finite) if finite else math.nan


def summary(confusion: Confusion, class_names) -> dict:
    """Plain numbers for a model file or a report: per-class IoU, their mean over the object
    classes (background left out), foreground IoU and pixel accuracy."""
    iou = confusion.iou()
    return {
        "iou": {name: (None if math.isnan(v) else round(float(v), 4)) for name, v in zip(class_names, iou)},
        "mean_iou": mean_iou(iou[1:]),
        "foreground_iou": confusion.foreground_iou(),
        "pixel_accuracy": confusion.pixel_accuracy(),
    }
