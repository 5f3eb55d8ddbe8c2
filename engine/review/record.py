"""One image's (or video frame's) result and the reviewer's decisions on it: the record every
front end reviews, the store keeps and exports read. No Qt.

Indices always refer to the detections as the model gave them (what decisions are keyed by);
filtering selects indices and never changes the record.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.types import Detections

PENDING, ACCEPTED, REJECTED, RELABELLED = "pending", "accepted", "rejected", "relabelled"
DECISION_STATES = (ACCEPTED, REJECTED, RELABELLED)


@dataclass(frozen=True)
class Decision:
    """A reviewer's call on one detection; `label` is the new class index when relabelled."""

    state: str
    label: Optional[int] = None

    def __post_init__(self):
        if self.state not in DECISION_STATES:
            raise ValueError(f"unknown decision state '{self.state}'")
        if (self.state == RELABELLED) != (self.label is not None):
            raise ValueError("a relabel needs a label, and only a relabel has one")


@dataclass
class ReviewRecord:
    """What `model` found in `path` (frame `frame` of a video, None for a still image) and the
    decisions on it. `result_id` is the store's key for it (None before it is stored)."""

    path: str
    model: str
    result_id: Optional[int]
    detections: Detections
    decisions: dict[int, Decision] = field(default_factory=dict)
    reviewed: bool = False
    frame: Optional[int] = None
    damaged: str = ""  # set when the stored result could not be read back

    @property
    def failure(self) -> str:
        return self.detections.failure

    @property
    def key(self) -> tuple[str, str, Optional[int]]:
        return (self.path, self.model, self.frame)

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

    def set_decision(self, index: int, decision: Optional[Decision]) -> None:
        if not 0 <= index < len(self.detections):
            raise IndexError(f"{self.path} has no detection #{index + 1}")
        if decision is None:
            self.decisions.pop(index, None)
        else:
            self.decisions[index] = decision

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

    def summary(self) -> "RecordSummary":
        rejected = frozenset(i for i, d in self.decisions.items() if d.state == REJECTED)
        return RecordSummary(self.result_id, self.detections.scores.astype(np.float32).copy(), rejected,
                             self.failure, self.reviewed, len(self.decisions), self.damaged)


@dataclass(frozen=True)
class RecordSummary:
    """Enough of a record to show a list entry without loading its detections."""

    result_id: Optional[int]
    scores: np.ndarray  # float32, in detection order
    rejected: frozenset = frozenset()  # indices of rejected detections
    failure: str = ""
    reviewed: bool = False
    decided: int = 0  # how many detections carry a decision
    damaged: str = ""

    def count(self, min_score: float) -> int:
        """Detections at or above `min_score` that were not rejected."""
        keep = self.scores >= np.float32(min_score)
        if self.rejected:
            keep[list(self.rejected)] = False
        return int(np.count_nonzero(keep))


def boxes_fingerprint(detections: Detections) -> int:
    """A checksum of the boxes: labels made from these boxes belong to these detections only."""
    return zlib.crc32(np.ascontiguousarray(detections.boxes, np.float32).tobytes())
