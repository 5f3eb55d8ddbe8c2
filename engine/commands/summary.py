"""What a detection or segmentation run tells at its end: counts and each failure, named."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import console
from engine.types import ImageFailure


@dataclass
class Summary:
    done: int = 0
    detections: int = 0
    skipped: int = 0
    failures: list[ImageFailure] = field(default_factory=list)
    seen: int = 0  # images taken from the list (done, failed or interrupted)

    def report(self, stream=None) -> None:
        console.report_summary(f"{self.done} images done, {self.detections} detections, {self.skipped} skipped "
                               f"(not images), {len(self.failures)} failed", self.failures, stream)
