"""Work the review window does off the main thread (run through `gui.work.WorkPool`):
scanning what was dropped or opened, and decoding an image for display together with its
stored result. Plain functions: they return data and touch no widget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.images import ImageLoadError, load_image, scan_paths
from engine.store import RecordSummary, ReviewStore, ReviewRecord
from engine.types import CancelToken
from gui.review.image_list import entry_for_path
from gui.viewer.image_item import Pyramid


@dataclass
class ScanResult:
    images: list[str] = field(default_factory=list)
    entries: list = field(default_factory=list)  # image_list.Entry per image, made here off the main thread
    videos: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    summaries: dict[str, RecordSummary] = field(default_factory=dict)
    seconds: float = 0.0


def scan_for_review(paths: list[str], store: ReviewStore, model: str) -> ScanResult:
    """Images under `paths` (folders recursively) with what the store knows about them."""
    began = time.perf_counter()
    scan = scan_paths(paths)
    images = [str(p) for p in scan.images]
    summaries = store.summaries(images, model) if images else {}
    entries = []
    for path in images:
        entry = entry_for_path(path)
        entry.apply_summary(summaries.get(path))
        entries.append(entry)
    return ScanResult(
        images=images,
        entries=entries,
        videos=[str(p) for p in scan.videos],
        skipped=[str(p) for p in scan.skipped],
        missing=[str(p) for p in scan.missing],
        summaries=summaries,
        seconds=time.perf_counter() - began,
    )


def summarise(paths: list[str], store: ReviewStore, model: str) -> dict[str, RecordSummary]:
    return store.summaries(paths, model)


@dataclass
class DisplayImage:
    path: str
    levels: Optional[Pyramid] = None
    array: Optional[np.ndarray] = None  # kept only when the model still has to see it
    stored: Optional[ReviewRecord] = None
    error: str = ""


def load_for_display(path: str, store: ReviewStore, model: str, want_result: bool,
                     cancel: Optional[CancelToken] = None) -> DisplayImage:
    """The image as a display pyramid, plus its stored result when asked and present."""
    stored = None
    if want_result:
        try:
            stored = store.load_result(path, model)
        except Exception:  # noqa: BLE001 - an unreadable row is treated as never analysed
            stored = None
    try:
        rgb = load_image(path)
    except ImageLoadError as exc:
        return DisplayImage(path, stored=stored, error=exc.reason)
    if cancel is not None and cancel.cancelled:
        return DisplayImage(path, error="cancelled")
    levels = Pyramid(rgb)
    keep = rgb if want_result and stored is None else None
    return DisplayImage(path, levels=levels, array=keep, stored=stored)
