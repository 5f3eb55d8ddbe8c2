"""Writing video results: an annotated video (overlays on every frame of a range, each analysed
frame's result held until the next one), checked after writing and retried with another codec
when the preferred one did not work; and per-frame results as COCO JSON or CSV. MP4 is written
in H.264 through PyAV (engine.video_h264), else with OpenCV's mp4v, else as MJPG .avi.

The annotated video is written to a temporary file in the destination folder, opened again and
its frame count compared with what was written; only a file that passes is renamed into place.
"""

from __future__ import annotations

import bisect
import glob
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import cv2
import numpy as np

from engine.draw import OverlayStyle, draw_detections
from engine.export import ExportItem, write_coco, write_csv
from engine.leftovers import remove_stale
from engine.types import CancelToken, Detections, Progress, ProgressCallback
from engine.video_analysis import FrameResult
from engine.video_h264 import CODEC as H264
from engine.video_h264 import H264Writer
from engine.video_io import Prefetcher, VideoReader, _quiet_opencv

# Preferred codecs per container, then the fallback every OpenCV build with FFmpeg writes.
# "h264" is PyAV's encoder; the others are OpenCV FourCCs.
CODECS_BY_SUFFIX = {
    ".mp4": (H264, "mp4v"), ".m4v": (H264, "mp4v"), ".mov": (H264, "mp4v"),
    ".avi": ("MJPG", "XVID"), ".mkv": ("mp4v", "MJPG"), ".webm": ("VP80", "VP90"),
}
FALLBACK = ("MJPG", ".avi")


class VideoWriteError(Exception):
    """No codec produced a readable annotated video; str() says what was tried."""


class _NoWriter(Exception):
    """This codec cannot be written here; str() says why."""


@dataclass(frozen=True)
class VideoWriteReport:
    path: Path  # the file written (its suffix differs from `requested` after a fallback)
    requested: Path
    codec: str
    frames: int  # frames written and found again when the file was re-opened
    failed: tuple[str, ...] = ()  # the attempts that did not work, in words

    @property
    def fell_back(self) -> bool:
        return bool(self.failed)

    def message(self) -> str:
        text = f"wrote {self.path} ({self.codec}, {self.frames} frames)"
        if self.failed:
            text += f" instead of {self.requested}: " + "; ".join(self.failed)
        return text


def codec_plan(out: Path, fourcc: Optional[str] = None) -> list[tuple[str, Path]]:
    """(FourCC, path) attempts in order for writing `out`."""
    suffix = out.suffix.lower()
    if suffix not in CODECS_BY_SUFFIX:
        raise ValueError(f"{out}: unknown video file type '{suffix}'; use one of "
                         + ", ".join(sorted(CODECS_BY_SUFFIX)))
    plan = [(code, out) for code in ((fourcc,) if fourcc else CODECS_BY_SUFFIX[suffix])]
    fallback = (FALLBACK[0], out.with_suffix(FALLBACK[1]))
    if fallback not in plan:
        plan.append(fallback)
    return plan


class HeldResults:
    """Results of analysed frames, looked up for any frame: the newest analysed at or before it."""

    def __init__(self, results: Mapping[int, Detections], min_score: float = 0.0):
        self._results = results
        self._keys = sorted(results)
        self.min_score = min_score
        self._cache: tuple[Optional[int], Optional[Detections]] = (None, None)

    def at(self, frame_index: int) -> Optional[Detections]:
        position = bisect.bisect_right(self._keys, frame_index) - 1
        if position < 0:
            return None
        key = self._keys[position]
        if self._cache[0] != key:
            self._cache = (key, self._results[key].filter(self.min_score))
        return self._cache[1]


def _count_frames(path: Path) -> int:
    """Frames in a freshly written file: the header's count, checked by decoding the first."""
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened() or not cap.read()[0]:
                return 0
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            if count <= 0:  # no count in the header: decode to the end
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                count = 0
                while cap.grab():
                    count += 1
            return count
        finally:
            cap.release()


def _set_default_mode(path: Path) -> None:
    """mkstemp makes owner-only files; a finished export gets the usual mode (0666 less umask)."""
    umask = 0o022
    try:  # read, not set: os.umask() would briefly change it for every thread
        with open("/proc/self/status") as status:
            umask = next((int(line.split()[1], 8) for line in status if line.startswith("Umask:")), umask)
    except OSError:
        pass
    os.chmod(path, 0o666 & ~umask)


def _open_writer(target: Path, codec: str, fps: float, size: tuple[int, int]):
    if codec == H264:
        writer = H264Writer(target, fps, size)
        if not writer.isOpened():
            raise _NoWriter(writer.reason)
        return writer
    with _quiet_opencv():
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise _NoWriter("OpenCV could not open a writer for it")
    return writer


def _writer_thread(writer, frames: queue.Queue, errors: list) -> None:
    while True:
        frame = frames.get()
        if frame is None:
            return
        try:
            writer.write(frame)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            errors.append(exc)


Render = Callable[[int, np.ndarray], np.ndarray]  # (frame index, RGB frame) -> RGB frame to write


def _write_attempt(source: Path, render: Render, target: Path, fourcc: str, start: int,
                   stop: Optional[int], fps: Optional[float],
                   progress: Optional[ProgressCallback], cancel: CancelToken) -> int:
    """Writes the annotated range to `target`; returns frames written (_NoWriter: none opened)."""
    with VideoReader(source) as reader:
        info = reader.info
        total = (stop if stop is not None else reader.frame_count) - start
        writer = _open_writer(target, fourcc, fps or info.fps, (info.width, info.height))
        encoded: queue.Queue = queue.Queue(maxsize=8)
        errors: list = []
        thread = threading.Thread(target=_writer_thread, args=(writer, encoded, errors),
                                  name="sightline-encode", daemon=True)
        thread.start()
        written = 0
        try:
            with Prefetcher(reader.frames(start, stop), maxsize=4) as frames:
                for index, rgb in frames:
                    cancel.raise_if_cancelled()
                    encoded.put(cv2.cvtColor(render(index, rgb), cv2.COLOR_RGB2BGR))
                    written += 1
                    if progress is not None and (written % 10 == 0 or written == total):
                        progress(Progress(written, max(total, written), f"writing {target.name}"))
        finally:
            encoded.put(None)
            thread.join()
            writer.release()
        if errors:
            raise errors[0]
        return written


def write_annotated_video(source: str | os.PathLike, results: Mapping[int, Detections],
                          out: str | os.PathLike, *, start_frame: int = 0, stop_frame: Optional[int] = None,
                          min_score: float = 0.0, style: OverlayStyle = OverlayStyle(),
                          fourcc: Optional[str] = None, fps: Optional[float] = None,
                          progress: Optional[ProgressCallback] = None,
                          cancel: Optional[CancelToken] = None) -> VideoWriteReport:
    """Frames [start_frame, stop_frame) of `source` with overlays drawn, written to `out`.

    `results` maps analysed frame indices to detections; frames in between show the result of
    the analysed frame before them. The written file is re-opened and its frame count checked;
    when that fails the next codec in `codec_plan` is tried (e.g. h264 .mp4, mp4v .mp4, MJPG .avi).
    Raises VideoError (bad source), VideoWriteError (nothing worked), Cancelled.
    """
    held = HeldResults(results, min_score)

    def render(index: int, rgb: np.ndarray) -> np.ndarray:
        det = held.at(index)
        return draw_detections(rgb, det, style) if det is not None and len(det) else rgb

    return write_rendered_video(source, render, out, start_frame=start_frame, stop_frame=stop_frame,
                                fourcc=fourcc, fps=fps, progress=progress, cancel=cancel)


def write_rendered_video(source: str | os.PathLike, render: Render, out: str | os.PathLike, *,
                         start_frame: int = 0, stop_frame: Optional[int] = None, fourcc: Optional[str] = None,
                         fps: Optional[float] = None, progress: Optional[ProgressCallback] = None,
                         cancel: Optional[CancelToken] = None) -> VideoWriteReport:
    """Frames [start_frame, stop_frame) of `source`, each passed through `render(index, rgb)`,
    written to `out` with the same checks and codec fallback as `write_annotated_video`
    (`render` may be called again for a frame when a codec is retried)."""
    source, out = Path(source), Path(out)
    cancel = cancel or CancelToken()
    failed: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for _, target in codec_plan(out, fourcc):  # what a killed earlier run left
        remove_stale(target.parent, f".{glob.escape(target.stem)}.*.partial{target.suffix}")
    for code, target in codec_plan(out, fourcc):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                written = _write_attempt(source, render, tmp, code, start_frame, stop_frame, fps, progress, cancel)
            except _NoWriter as exc:
                failed.append(f"{code} {target.suffix}: {exc}")
                continue
            if written == 0:
                raise VideoWriteError(f"{source}: no frame could be read in the range to export")
            found = _count_frames(tmp)
            if found != written:
                failed.append(f"{code} {target.suffix}: re-opened file holds {found} of {written} frames")
                continue
            _set_default_mode(tmp)
            os.replace(tmp, target)
            return VideoWriteReport(target, out, code, written, tuple(failed))
        finally:
            if tmp.exists():
                tmp.unlink()
    raise VideoWriteError(f"{out}: no codec produced a readable video: " + "; ".join(failed))


def frame_items(video: str | os.PathLike, results: Iterable[FrameResult], min_score: float = 0.0) -> list[ExportItem]:
    """One export entry per analysed frame: file_name the video, plus frame_index and time_s."""
    return [
        ExportItem(str(video), r.detections.filter(min_score),
                   image_extras={"frame_index": r.frame_index, "time_s": round(r.time_s, 4)})
        for r in results
    ]


def write_video_coco(out: str | os.PathLike, video: str | os.PathLike, results: Iterable[FrameResult],
                     model_name: str = "", min_score: float = 0.0) -> Path:
    return write_coco(out, frame_items(video, results, min_score), model_name)


def write_video_csv(out: str | os.PathLike, video: str | os.PathLike, results: Iterable[FrameResult],
                    min_score: float = 0.0) -> Path:
    return write_csv(out, frame_items(video, results, min_score))
