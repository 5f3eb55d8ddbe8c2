"""`sightline segment PATH... --model FILE --out DIR`: a class for every pixel.

Images: DIR/<stem>.png, an 8-bit map of class indices at the image's own size (0 =
background). Videos: DIR/<stem>/<frame index, 6 digits>.png for every `--stride`th frame of
[--start, --end), and with `--save-video OUT` the range with the class map drawn over it
(each map held until the next analysed frame). DIR/classes.json lists the class names in
index order, "background" first. Every file is written atomically; an input is never written
over. A file that cannot be read is named with the reason and the batch carries on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from engine import console
from engine.commands.summary import Summary
from engine.commands.argtypes import positive_int
from engine.commands.detect_video import _video_file, parse_time, video_output_path
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.devices import DeviceError
from engine.export import write_bytes_atomic
from engine.images import ImageLoadError, load_image, scan_paths
from engine.segment.predict import Segmenter, draw_class_map, palette
from engine.types import ImageFailure
from engine.video_analysis import frame_span
from engine.video_export import VideoWriteError, write_rendered_video
from engine.video_io import VideoError, VideoReader
from engine.weights import WeightsError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "segment", help="label every pixel of images and videos with a trained segmenter",
        description="Write DIR/<stem>.png (8-bit class index per pixel at the original size, 0 = background) "
        "and DIR/classes.json for every image; DIR/<stem>/<frame>.png for video frames.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images, videos or folders (recursive)")
    parser.add_argument("--model", required=True, help="segmenter file from `sightline train-segmenter`")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity for --save-video (default 0.5)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own)")
    group = parser.add_argument_group("videos")
    group.add_argument("--stride", type=positive_int, default=1, metavar="N", help="every Nth frame (default 1)")
    group.add_argument("--start", type=parse_time, default=None, metavar="T", help="from this time (s, MM:SS)")
    group.add_argument("--end", type=parse_time, default=None, metavar="T", help="up to (not including) this time")
    group.add_argument("--save-video", type=_video_file, default=None, metavar="OUT",
                       help="write the range with the class map drawn over it; several videos: OUT-<video name>.<ext>")
    parser.set_defaults(run=run)
    return parser


def encode_class_png(classes: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", classes)
    if not ok:
        raise ValueError("could not encode PNG")
    return data.tobytes()


class Writer:
    """Class maps into the output folder, never onto an input file."""

    def __init__(self, out: Path, inputs: list[Path]):
        self.out, self.used = out, set()
        self.inputs = {p.resolve() for p in inputs}

    def target(self, stem: str, folder: Path | None = None) -> Path:
        base = (folder or self.out) / stem
        path, n = base.with_suffix(".png"), 1
        while path.resolve() in self.used or path.resolve() in self.inputs:
            n += 1
            path = base.with_name(f"{base.name}-{n}.png")
        self.used.add(path.resolve())
        return path

    def write(self, path: Path, classes: np.ndarray) -> None:
        write_bytes_atomic(path, encode_class_png(classes))


def segment_images(segmenter: Segmenter, images: list[Path], writer: Writer, summary: Summary, seconds: list) -> None:
    bar = console.ProgressBar(len(images), "segmenting")
    for done, path in enumerate(images, start=1):
        try:
            image = load_image(path)
            classes = segmenter.predict(image)
            seconds.append(segmenter.last_seconds)
            writer.write(writer.target(path.stem), classes)
            summary.done += 1
        except (ImageLoadError, OSError) as exc:
            summary.failures.append(ImageFailure(str(path), getattr(exc, "reason", None) or str(exc)))
        bar.update(done)
    bar.close()


def segment_video(segmenter: Segmenter, path: Path, args, writer: Writer, summary: Summary, seconds: list,
                  video_out: Path | None) -> None:
    """Every stride-th frame of the range to PNGs; with `video_out` in the same pass as the video."""
    with VideoReader(path) as reader:
        span = frame_span(reader.info, args.start, args.end, args.stride, reader.frame_count)
    folder, colours = args.out / path.stem, palette(len(segmenter.class_names))
    held = {"classes": None}

    def render(index: int, rgb: np.ndarray) -> np.ndarray:
        if (index - span.start) % span.stride == 0:
            held["classes"] = segmenter.predict(rgb)
            seconds.append(segmenter.last_seconds)
            writer.write(folder / f"{index:06d}.png", held["classes"])
            summary.done += 1
        classes = held["classes"]
        return rgb if classes is None else draw_class_map(rgb, classes, args.opacity, colours)

    if video_out is not None:
        report = write_rendered_video(path, render, video_out, start_frame=span.start, stop_frame=span.stop)
        sys.stderr.write(report.message() + "\n")
        return
    with VideoReader(path) as reader:
        for index, rgb in reader.frames(span.start, span.stop, span.stride):
            render(index, rgb)


def run(args: argparse.Namespace) -> int:
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        segmenter = Segmenter(args.model, device=args.device)
    except (WeightsError, DeviceError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    scan = scan_paths(args.paths)
    summary, seconds = Summary(skipped=len(scan.skipped)), []
    summary.failures += [ImageFailure(str(p), "no such file or folder") for p in scan.missing]
    if not scan.images and not scan.videos:
        console.error("no images or videos found in " + ", ".join(args.paths))
        return EXIT_USAGE
    writer = Writer(args.out, scan.images + scan.videos)
    write_bytes_atomic(args.out / "classes.json", json.dumps(list(segmenter.class_names), indent=1).encode())
    segment_images(segmenter, scan.images, writer, summary, seconds)
    used: set = set()
    for path in scan.videos:
        video_out = args.save_video and video_output_path(args.save_video, path, len(scan.videos) > 1, used)
        try:
            segment_video(segmenter, path, args, writer, summary, seconds, video_out or None)
        except (VideoError, VideoWriteError, ValueError, OSError) as exc:
            console.error(str(exc))
            summary.failures.append(ImageFailure(str(path), getattr(exc, "reason", None) or str(exc)))
    rate = f", {statistics.median(seconds) * 1000:.1f} ms per image (median)" if seconds else ""
    sys.stderr.write(f"{summary.done} images and frames segmented with {segmenter.name} on "
                     f"{segmenter.device_info.description}{rate}\n")
    for failure in summary.failures:
        sys.stderr.write(f"failed: {failure.path}: {failure.reason}\n")
    if summary.skipped:
        sys.stderr.write(f"skipped {summary.skipped} files that are not images or videos\n")
    return EXIT_FAILURES if summary.failures else EXIT_OK
