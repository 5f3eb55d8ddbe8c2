"""The review core's tests. With SIGHTLINE_BLOCK_QT=1 (as `test_review_core_without_qt` runs
them, in a process of their own) importing any Qt binding fails, so these tests prove that
the review works without Qt."""

import importlib.abc
import os
import sys

import numpy as np
import pytest

from engine.store import ReviewStore
from engine.types import CroppedMask, Detections

QT_BINDINGS = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6")


class _NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in QT_BINDINGS:
            raise ImportError(f"{name} is blocked: the review core must work without Qt")
        return None


if os.environ.get("SIGHTLINE_BLOCK_QT") == "1":
    sys.meta_path.insert(0, _NoQt())

CLASSES = ("__background__", "circle", "square", "triangle")


def make_detections(n: int = 4, height: int = 60, width: int = 80) -> Detections:
    boxes = np.array([[5 + 10 * i, 6, 15 + 10 * i, 20] for i in range(n)], np.float32).reshape(-1, 4)
    masks = tuple(CroppedMask(5 + 10 * i, 6, np.ones((14, 10), bool)) for i in range(n))
    keypoints = np.zeros((n, 2, 3), np.float32)
    keypoints[:, 0] = (7, 8, 1)
    keypoints[:, 1] = (9, 10, 0)
    return Detections(
        image_size=(height, width), boxes=boxes, scores=np.linspace(0.95, 0.35, n).astype(np.float32),
        labels=np.array([1, 2, 3, 1][:n] + [1] * max(0, n - 4), np.int64), class_names=CLASSES, masks=masks,
        keypoints=keypoints, keypoint_names=("top", "tip"), model_name="demo-shapes")


@pytest.fixture
def store(tmp_path):
    s = ReviewStore(tmp_path / "review.sqlite3")
    yield s
    s.close()


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "pictures" / "a.png"
    path.parent.mkdir()
    path.write_bytes(b"the store only stats it")
    return path
