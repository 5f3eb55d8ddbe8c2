"""Which detections a reviewer sees, and which an export takes. Filtering never touches a
model: it selects indices of a record's cached detections."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.review.record import ACCEPTED, REJECTED, RELABELLED, ReviewRecord

INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED = "all", "not_rejected", "accepted"
INCLUDES = (INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED)
DISAGREES = "\x00disagrees"  # classifier_says: where the classifier's top label is not the detection's class


@dataclass(frozen=True)
class ViewFilter:
    """What the review view shows: a score floor, hidden classes, and rejected or not."""

    min_score: float = 0.5
    hidden_classes: frozenset = frozenset()
    show_rejected: bool = False
    classifier_says: str = ""  # a label: only detections a classifier gave it as its top label; DISAGREES

    def with_(self, **changes) -> "ViewFilter":
        return replace(self, **changes)

    def visible(self, record: ReviewRecord, classifier_labels=None) -> np.ndarray:
        """Indices shown, in stored order (highest score first). `classifier_labels`: the
        classifier's top label per detection (None where it has none), for `classifier_says`."""
        keep = [i for i in record.above(self.min_score).tolist()
                if record.name(i) not in self.hidden_classes
                and (self.show_rejected or record.state(i) != REJECTED)
                and self._classifier_passes(record, i, classifier_labels)]
        return np.array(keep, np.int64)

    def _classifier_passes(self, record: ReviewRecord, index: int, labels) -> bool:
        if not self.classifier_says:
            return True
        said = labels[index] if labels is not None and index < len(labels) else None
        if said is None:
            return False  # not labelled (yet): nothing to match
        if self.classifier_says == DISAGREES:
            return said.casefold() != record.name(index).casefold()
        return said.casefold() == self.classifier_says.casefold()


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
