"""Per-frame results of one video: which frames a model analysed, with each frame's scores,
and the record of any frame on demand (read from the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.review.record import ReviewRecord


@dataclass
class VideoResults:
    path: str
    model: str
    scores: dict[int, np.ndarray] = field(default_factory=dict)  # analysed frame -> its scores

    @classmethod
    def from_store(cls, store, path: str, model: str) -> "VideoResults":
        results = cls(path, model)
        for frame in store.frames(path, model):
            record = store.load_result(path, model, frame)
            if record is not None:
                results.scores[frame] = record.detections.scores.copy()
        return results

    @property
    def frames(self) -> list[int]:
        return sorted(self.scores)

    def add(self, frame: int, scores: np.ndarray) -> None:
        self.scores[frame] = np.asarray(scores, np.float32).copy()

    def record(self, store, frame: int) -> Optional[ReviewRecord]:
        return store.load_result(self.path, self.model, frame) if frame in self.scores else None

    def nearest_at_or_before(self, frame: int) -> Optional[int]:
        """The newest analysed frame not after `frame` (its result is held until the next)."""
        earlier = [f for f in self.scores if f <= frame]
        return max(earlier) if earlier else None
