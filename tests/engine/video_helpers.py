"""Helpers for the video tests: stand-in detectors, bad video files, box overlap."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from engine.demo.shapes_video import write_shapes_video
from engine.types import Detections

CLASS_NAMES = ("__background__", "circle", "square", "triangle")
BACKGROUND = np.array((200, 200, 190))


def iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class BlobDetector:
    """Finds the synthetic shapes by colour (no model): exact enough to check that each result
    belongs to its frame. Records the batch sizes it was called with."""

    name = "blobs"
    class_names = CLASS_NAMES

    def __init__(self, delay: float = 0.0):
        self.device = torch.device("cpu")
        self.batch_size = 1
        self.delay = delay
        self.calls: list[int] = []
        self.threads: set[str] = set()

    def _detect(self, image: np.ndarray) -> Detections:
        foreground = (np.abs(image.astype(int) - BACKGROUND).sum(axis=2) > 90).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(foreground)
        boxes, labels = [], []
        for x, y, w, h, area in stats[1:]:
            if area < 100:
                continue
            fill = area / (w * h)
            labels.append(2 if fill > 0.9 else 1 if fill > 0.65 else 3)
            boxes.append((x, y, x + w, y + h))
        n = len(boxes)
        return Detections(image.shape[:2], np.array(boxes, np.float32).reshape(n, 4),
                          np.full(n, 0.9, np.float32), np.array(labels, np.int64), CLASS_NAMES, model_name=self.name)

    def predict(self, images):
        self.calls.append(len(images))
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        return [self._detect(im) for im in images]


def make_bad_videos(folder: Path) -> dict[str, Path]:
    """Files for the bad-input cases, by case name."""
    folder.mkdir(parents=True, exist_ok=True)
    good_mp4, good_avi = folder / "good.mp4", folder / "good.avi"
    write_shapes_video(good_mp4, frames=20)
    write_shapes_video(good_avi, frames=20, fourcc="MJPG")
    files = {}
    for name, source in (("truncated.mp4", good_mp4), ("truncated.avi", good_avi)):
        data = source.read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
        files[name] = folder / name
    for name, code in (("no-frames.avi", "MJPG"), ("no-frames.mp4", "mp4v")):
        writer = cv2.VideoWriter(str(folder / name), cv2.VideoWriter_fourcc(*code), 25, (320, 240))
        writer.release()
        files[name] = folder / name
    files["bad-codec.avi"] = folder / "bad-codec.avi"
    files["bad-codec.avi"].write_bytes(good_avi.read_bytes().replace(b"MJPG", b"ZZZZ"))
    files["not-a-video.mp4"] = folder / "not-a-video.mp4"
    files["not-a-video.mp4"].write_text("this is a text file, not a video\n" * 20)
    files["empty.mp4"] = folder / "empty.mp4"
    files["empty.mp4"].write_bytes(b"")
    return files
