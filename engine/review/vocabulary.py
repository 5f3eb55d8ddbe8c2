"""The class vocabulary of a model: its category names (background and "N/A" entries
included, as torchvision lists them), keypoint names and skeleton. One object per model,
shared by every result that model made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from engine.types import Detections

# Names in a model's category list that are not categories a detection can have.
NON_CATEGORIES = frozenset({"__background__", "N/A", "no person"})


@dataclass(frozen=True)
class Vocabulary:
    classes: tuple[str, ...]
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, detections: Detections) -> "Vocabulary":
        return cls(tuple(detections.class_names), tuple(detections.keypoint_names),
                   tuple(tuple(p) for p in detections.skeleton))

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        data = json.loads(text)
        return cls(tuple(data["classes"]), tuple(data.get("keypoint_names", ())),
                   tuple(tuple(p) for p in data.get("skeleton", ())))

    def to_json(self) -> str:
        return json.dumps({"classes": list(self.classes), "keypoint_names": list(self.keypoint_names),
                           "skeleton": [list(p) for p in self.skeleton]}, separators=(",", ":"))

    def categories(self) -> list[tuple[int, str]]:
        """(index, name) of the classes a detection may have (and be relabelled to)."""
        return [(i, n) for i, n in enumerate(self.classes) if i > 0 and n not in NON_CATEGORIES]

    def index_of(self, name: str) -> int | None:
        """The class index named `name` (case-insensitive), None when there is none."""
        wanted = name.strip().lower()
        for i, n in self.categories():
            if n.lower() == wanted:
                return i
        return None

    def empty(self, image_size: tuple[int, int] = (1, 1)) -> Detections:
        """No detections, in this vocabulary (what a failed image holds)."""
        return Detections.empty(image_size, self.classes, keypoint_names=self.keypoint_names,
                                skeleton=self.skeleton)


def category_choices(class_names: Sequence[str]) -> list[tuple[int, str]]:
    return Vocabulary(tuple(class_names)).categories()
