"""Which detections a reviewer sees, and which an export takes. Filtering never touches a
model: it selects indices of a record's cached detections."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.review.record import ACCEPTED, REJECTED, RELABELLED, ReviewRecord

INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED = "all", "not_rejected", "accepted"
INCLUDES = (INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED)


@dataclass(frozen=True)
class ViewFilter:
    """What the review view shows: a score floor, hidden classes, and rejected or not."""

    min_score: float = 0.5
    hidden_classes: frozenset = frozenset()
    show_rejected: bool = False

    def with_(self, **changes) -> "ViewFilter":
        return replace(self, **changes)

    def visible(self, record: ReviewRecord) -> np.ndarray:
        """Indices shown, in stored order (highest score first)."""
        keep = [i for i in record.above(self.min_score).tolist()
                if record.name(i) not in self.hidden_classes
                and (self.show_rejected or record.state(i) != REJECTED)]
        return np.array(keep, np.int64)


@dataclass(frozen=True)
class ExportSelection:
    """Which detections an export takes: a score floor, hidden classes, and by review state
    `all`, `not_rejected` (the default) or `accepted` (accepted and relabelled only)."""

    min_score: float = 0.0
    hidden_classes: frozenset = frozenset()
    include: str = INCLUDE_NOT_REJECTED
    only_reviewed: bool = False

    def __post_init__(self):
        if self.include not in INCLUDES:
            raise ValueError(f"unknown export selection '{self.include}' (one of {', '.join(INCLUDES)})")

    def takes(self, record: ReviewRecord) -> bool:
        """Whether the record goes out at all (failed images and, if asked, unreviewed do not)."""
        return not record.failure and not record.damaged and (record.reviewed or not self.only_reviewed)

    def indices(self, record: ReviewRecord) -> list[int]:
        keep = []
        for i in record.above(self.min_score).tolist():
            state = record.state(i)
            if record.name(i) in self.hidden_classes:
                continue
            if self.include == INCLUDE_ACCEPTED and state not in (ACCEPTED, RELABELLED):
                continue
            if self.include == INCLUDE_NOT_REJECTED and state == REJECTED:
                continue
            keep.append(i)
        return keep
