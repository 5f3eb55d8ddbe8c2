"""What a trained classifier gets right and wrong on the validation images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np


@dataclass
class Results:
    class_names: tuple[str, ...]
    accuracy: float
    per_class_accuracy: dict[str, Optional[float]]  # None: no validation images of that class
    confusion: np.ndarray  # (C, C) int64; rows are true classes, columns predictions
    misclassified: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (true, predicted) -> paths

    def to_dict(self) -> dict:
        """Plain types only, so it can go into a weights_only checkpoint."""
        return {
            "accuracy": float(self.accuracy),
            "per_class_accuracy": dict(self.per_class_accuracy),
            "confusion": self.confusion.astype(int).tolist(),
            "misclassified": [[t, p, list(paths)] for (t, p), paths in self.misclassified.items()],
        }

    def lines(self, max_paths: int = 3) -> list[str]:
        """Overall and per-class accuracy, the confusion matrix and a few mistakes, as text."""
        names = self.class_names
        width = max(8, max(len(n) for n in names))
        out = [f"validation accuracy: {self.accuracy:.1%}"]
        for name, acc in self.per_class_accuracy.items():
            out.append(f"  {name:<{width}}  {'n/a' if acc is None else f'{acc:.1%}'}")
        out.append("confusion matrix (rows: true class, columns: predicted):")
        cell = max(6, max(len(n) for n in names) + 1)
        out.append(" " * (width + 2) + "".join(f"{n[:cell - 1]:>{cell}}" for n in names))
        for name, row in zip(names, self.confusion):
            out.append(f"  {name:<{width}}" + "".join(f"{int(v):>{cell}}" for v in row))
        for (true, predicted), paths in self.misclassified.items():
            more = f" (+{len(paths) - max_paths} more)" if len(paths) > max_paths else ""
            shown = ", ".join(paths[:max_paths]) + more
            out.append(f"  {true} taken for {predicted} ({len(paths)}): {shown}")
        return out


def summarise(
    predictions: np.ndarray, targets: np.ndarray, paths: Sequence[str], class_names: Sequence[str]
) -> Results:
    names = tuple(class_names)
    count = len(names)
    confusion = np.zeros((count, count), np.int64)
    np.add.at(confusion, (np.asarray(targets, np.int64), np.asarray(predictions, np.int64)), 1)
    per_class = {}
    for index, name in enumerate(names):
        total = int(confusion[index].sum())
        per_class[name] = float(confusion[index, index] / total) if total else None
    misclassified: dict[tuple[str, str], list[str]] = {}
    for path, true, predicted in zip(paths, targets, predictions):
        if true != predicted:
            misclassified.setdefault((names[true], names[predicted]), []).append(str(path))
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return Results(names, accuracy, per_class, confusion, dict(sorted(misclassified.items())))
