"""Exporting a video's results (runs in the task pool; the engine writes the files): an annotated
video (codec fallback; the report says what was written), or per-frame COCO JSON / CSV. What is
exported is what the review shows: detections at the threshold, rejected ones left out,
relabels applied."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from engine.export import ExportItem, write_coco, write_csv
from engine.store import ReviewStore
from engine.types import CancelToken, Progress
from engine.video import VideoReader, write_annotated_video
from engine.review.exporting import INCLUDE_NOT_REJECTED, ExportRequest, reviewed_item

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


def reviewed_frames(path: str, store: ReviewStore, model: str, min_score: float,
                    hidden: frozenset = frozenset()) -> list[tuple[int, ExportItem]]:
    request = ExportRequest("coco", Path(path), [path], model, min_score, hidden, INCLUDE_NOT_REJECTED)
    out = []
    for frame in store.frames(path, model):
        stored = store.load_result(path, model, frame)
        if stored is not None and not stored.detections.failure:
            out.append((frame, reviewed_item(stored, request)))
    return out


def export_video(kind: str, path: str, out: str, store: ReviewStore, model: str, min_score: float,
                 hidden: frozenset = frozenset(), cancel: Optional[CancelToken] = None, progress=None) -> str:
    """Writes `out`; returns a sentence for the user naming what was written."""
    frames = reviewed_frames(path, store, model, min_score, hidden)
    if not frames:
        raise ValueError(f"{Path(path).name} has no analysed frames to export; analyse it first")
    if kind == "video":
        results = {frame: item.detections for frame, item in frames}
        report = write_annotated_video(path, results, out, progress=progress, cancel=cancel)
        return report.message()[0].upper() + report.message()[1:]
    with VideoReader(path) as reader:
        fps = reader.fps
    items = []
    for frame, item in frames:
        extras = dict(item.image_extras or {}, frame_index=frame, time_s=round(frame / fps, 4))
        items.append(ExportItem(item.file_name, item.detections, extras, item.annotation_extras))
    written = write_coco(out, items, model) if kind == "coco" else write_csv(out, items)
    if progress is not None:
        progress(Progress(len(items), len(items), "written"))
    return f"Wrote {written} ({len(items):,} frames, {sum(len(i.detections) for i in items):,} detections)"


def kind_of(out: str) -> str:
    suffix = Path(out).suffix.lower()
    return "coco" if suffix == ".json" else "csv" if suffix == ".csv" else "video"
