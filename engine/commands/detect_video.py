"""Video options and handling for `sightline detect`.

    sightline detect clip.mp4 --stride 5 --start 1:30 --end 2:00 --out results.json --save-video out.mp4

Every `--stride`th frame of [--start, --end) is analysed with a progress bar; each analysed frame
becomes one COCO image entry (file_name the video, plus frame_index and time_s). `--save-video`
writes the range with overlays, each result held until the next analysed frame; with several
videos one file is written per video, named `OUT-<video name>.<ext>`. Ctrl-C stops the run
and keeps (and writes to --out / --csv) the frames already analysed; no annotated video is written
for the interrupted video.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Optional

from engine import console
from engine.commands.argtypes import positive_int
from engine.export import ExportItem
from engine.types import Detections, ImageFailure
from engine.video import (
    VideoAnalysis,
    VideoError,
    VideoWriteError,
    codec_plan,
    write_annotated_video,
)


def parse_time(text: str) -> float:
    """Seconds from "90", "90.5", "1:30" or "0:01:30.5"."""
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: '{text}' (use seconds, MM:SS or HH:MM:SS)") from None
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        raise argparse.ArgumentTypeError(f"not a time: '{text}' (use seconds, MM:SS or HH:MM:SS)")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _video_file(text: str) -> Path:
    path = Path(text)
    try:
        codec_plan(path)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("videos")
    group.add_argument("--stride", type=positive_int, default=1, metavar="N",
                       help="analyse every Nth frame of a video (default 1: every frame)")
    group.add_argument("--start", type=parse_time, default=None, metavar="T",
                       help="analyse from this time on (seconds, MM:SS or HH:MM:SS)")
    group.add_argument("--end", type=parse_time, default=None, metavar="T",
                       help="analyse up to (not including) this time")
    group.add_argument("--save-video", type=_video_file, default=None, metavar="OUT",
                       help="write the analysed range with overlays (.mp4, .avi, .mkv, .mov, .webm; falls back "
                       "to MJPG .avi if the codec does not work). With several videos: OUT-<video name>.<ext> each")
    group.add_argument("--video-batch", type=positive_int, default=None, metavar="N",
                       help="video frames per model call (default: measured on CUDA; on the CPU 1, two calls side by side, "
                       "or 2 when torch has one thread)")


def video_output_path(out: Path, video: Path, several: bool, used: set) -> Path:
    """`out` itself for one video; `out-<video stem>` (numbered if taken) for several."""
    if not several:
        return out
    candidate, n = out.with_name(f"{out.stem}-{video.stem}{out.suffix}"), 1
    while candidate in used:
        n += 1
        candidate = out.with_name(f"{out.stem}-{video.stem}-{n}{out.suffix}")
    used.add(candidate)
    return candidate


def report_unusable(path: Path, exc: Exception, summary) -> None:
    """A video that cannot be opened (VideoError) or whose range holds no frame (ValueError):
    said on the console and counted as failed, as every detect run (local or cluster) does."""
    reason = exc.reason if isinstance(exc, VideoError) else str(exc)
    console.error(str(exc) if isinstance(exc, VideoError) else f"{path}: {exc}")
    summary.failures.append(ImageFailure(str(path), reason))


def _describe_range(analysis: VideoAnalysis) -> str:
    span, info = analysis.span, analysis.info
    every = "every frame" if span.stride == 1 else f"one frame in {span.stride}"
    stop = analysis.analysed_stop
    return f"{every} of {info.time_of(span.start):.2f}-{info.time_of(stop):.2f} s"


def _analyse_one(detector, path: Path, args, summary, items: list) -> tuple[Optional[VideoAnalysis], dict]:
    """Runs one video; returns the analysis and the held results for drawing."""
    batch = args.video_batch or getattr(args, "batch_size", None)
    try:
        analysis = VideoAnalysis(detector, path, start_s=args.start, end_s=args.end, stride=args.stride,
                                 batch_size=batch)
    except (VideoError, ValueError) as exc:
        report_unusable(path, exc, summary)
        return None, {}
    info = analysis.info
    sys.stderr.write(f"{path}: {info.width}x{info.height}, {info.fps:.2f} frames/s, "
                     f"{info.frame_count} frames ({info.duration:.1f} s), codec {info.codec or '?'}\n")
    bar = console.ProgressBar(analysis.total, path.name)
    held: dict[int, Detections] = {}
    detections = 0
    try:
        for result in analysis:
            det = result.detections
            if det.failure:
                summary.failures.append(ImageFailure(f"{path} (frame {result.frame_index})", det.failure))
            else:
                kept = det.filter(min_score=args.score)
                summary.done += 1
                summary.detections += len(kept)
                detections += len(kept)
                if args.save_video:  # only what an output needs is kept: memory stays flat otherwise
                    held[result.frame_index] = kept
                if args.out or getattr(args, "csv", None):
                    items.append(ExportItem(str(path), kept, image_extras={
                        "frame_index": result.frame_index, "time_s": round(result.time_s, 4)}))
            bar.update(analysis.done, f"{detections} detections, {analysis.rate:.1f} frames/s")
    finally:
        bar.close()
        for warning in analysis.warnings:
            sys.stderr.write(f"sightline: warning: {warning}\n")
        if analysis.reader.short:  # a damaged file counts as a failure even though its frames were used
            summary.failures.append(ImageFailure(str(path), analysis.warnings[-1].removeprefix(f"{path}: ")
                                                 + "; the frames that could be read were used"))
    sys.stderr.write(f"{path}: {analysis.done} frames analysed ({_describe_range(analysis)}), {detections} "
                     f"detections, {analysis.rate:.2f} frames/s, batch {analysis.batch_size or 1}\n")
    return analysis, held


def _save_video(path: Path, analysis: VideoAnalysis, held: dict, out: Path, summary) -> None:
    start, stop = analysis.span.start, analysis.analysed_stop
    bar = console.ProgressBar(stop - start, f"writing {out.name}")
    try:
        report = write_annotated_video(path, held, out, start_frame=start, stop_frame=stop,
                                       progress=lambda p: bar.update(p.done))
    except (VideoError, VideoWriteError) as exc:
        bar.close()
        console.error(str(exc))
        summary.failures.append(ImageFailure(str(out), f"annotated video not written: {exc}"))
        return
    bar.close()
    sys.stderr.write(report.message() + "\n")


def detect_videos(detector, videos: list[Path], args, summary) -> list[ExportItem]:
    """Analyse each video; frames go into `summary` and the returned export items."""
    items: list[ExportItem] = []
    used: set = set()
    for number, path in enumerate(videos):
        try:
            analysis, held = _analyse_one(detector, path, args, summary, items)
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            console.error(f"{path}: interrupted; the frames already analysed are kept")
            summary.failures.append(ImageFailure(str(path), "interrupted before the end"))
            summary.failures += [ImageFailure(str(p), "not analysed (interrupted)") for p in videos[number + 1:]]
            break
        if analysis is None or not args.save_video:
            continue
        if not held:
            summary.failures.append(ImageFailure(str(path), "no annotated video written: no frame was analysed"))
            continue
        _save_video(path, analysis, held, video_output_path(args.save_video, path, len(videos) > 1, used), summary)
    return items
