"""What the user is reviewing, without Qt: one image's detections, decisions and the filter.

Filtering never touches the model: `visible()` re-selects indices of the cached detections.
Indices always refer to the stored `Detections` (what decisions are keyed by).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from engine.export import NON_CATEGORIES
from engine.store import ACCEPTED, PENDING, REJECTED, RELABELLED, Decision, StoredResult
from engine.types import Detections


@dataclass(frozen=True)
class ViewFilter:
    min_score: float = 0.5
    hidden_classes: frozenset = frozenset()
    show_rejected: bool = False

    def with_(self, **changes) -> "ViewFilter":
        return replace(self, **changes)


@dataclass
class ImageReview:
    """One image's stored result and the decisions on it (mirrors the review store)."""

    path: str
    model: str
    result_id: Optional[int]
    detections: Detections
    decisions: dict[int, Decision] = field(default_factory=dict)
    reviewed: bool = False

    @classmethod
    def from_stored(cls, stored: StoredResult) -> "ImageReview":
        """The review of a stored result, with its own copy of the decisions to change."""
        return cls(stored.path, stored.model, stored.result_id, stored.detections,
                   dict(stored.decisions), stored.reviewed)

    @property
    def failure(self) -> str:
        return self.detections.failure

    def state(self, index: int) -> str:
        decision = self.decisions.get(index)
        return decision.state if decision else PENDING

    def label(self, index: int) -> int:
        """The class index the detection has now: its relabel, else what the model said."""
        decision = self.decisions.get(index)
        if decision is not None and decision.state == RELABELLED:
            return int(decision.label)
        return int(self.detections.labels[index])

    def name(self, index: int) -> str:
        return self.detections.class_names[self.label(index)]

    def names(self) -> list[str]:
        return [self.name(i) for i in range(len(self.detections))]

    def area(self, index: int) -> float:
        det = self.detections
        if det.masks is not None:
            return float(det.masks[index].area)
        x1, y1, x2, y2 = det.boxes[index]
        return float((x2 - x1) * (y2 - y1))

    def above(self, min_score: float) -> np.ndarray:
        return np.flatnonzero(self.detections.scores >= min_score)

    def visible(self, view: ViewFilter) -> np.ndarray:
        """Indices shown under `view`, in stored order (highest score first)."""
        keep = []
        for i in self.above(view.min_score).tolist():
            if self.name(i) in view.hidden_classes:
                continue
            if self.state(i) == REJECTED and not view.show_rejected:
                continue
            keep.append(i)
        return np.array(keep, np.int64)

    def class_counts(self, min_score: float) -> dict[str, int]:
        """Detections per class at or above `min_score`, rejected ones left out."""
        counts: dict[str, int] = {}
        for i in self.above(min_score).tolist():
            if self.state(i) != REJECTED:
                counts[self.name(i)] = counts.get(self.name(i), 0) + 1
        return counts

    def count(self, min_score: float) -> int:
        return sum(self.class_counts(min_score).values())

    def decided(self) -> int:
        return len(self.decisions)


def boxes_fingerprint(detections: Detections) -> int:
    """A checksum of the boxes: labels made from these boxes belong to these detections only
    (a result id alone may be reused by the store after a re-analysis)."""
    return zlib.crc32(np.ascontiguousarray(detections.boxes, np.float32).tobytes())


def category_choices(class_names) -> list[tuple[int, str]]:
    """(index, name) of the classes a detection may be relabelled to."""
    return [(i, n) for i, n in enumerate(class_names) if i > 0 and n not in NON_CATEGORIES]


__all__ = ["ACCEPTED", "PENDING", "REJECTED", "RELABELLED", "Decision", "ImageReview", "ViewFilter",
           "boxes_fingerprint", "category_choices"]
