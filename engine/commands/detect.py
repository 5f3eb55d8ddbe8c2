"""`sightline detect PATH...`: run a detection model over images and folders from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import console
from engine.commands import detect_cluster
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.devices import DeviceError
from engine.commands.argtypes import int_between, positive_int
from engine.commands.detect_outputs import overlay_names, scan_for_run, write_results
from engine.commands.summary import Summary
from engine.draw import draw_detections, encode_png
from engine.export import ExportItem, write_bytes_atomic
from engine.image_batches import detect_files
from engine.outputs import describe_os_error
from engine.models import REGISTRY, UnknownModel, default_model_name, ensure_weights
from engine.types import Detections, ImageFailure
from engine.weights import WeightsError


MAX_SIZE = 8000  # --size: inference shorter side in pixels


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "detect", help="detect objects in images, folders and videos",
        description="Run a detection model over images and folders (recursive). Prints a summary; "
        "optionally writes COCO JSON and overlay images.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images, videos or folders")
    parser.add_argument("--model", default=None, help="registry name or weights file (default: Mask R-CNN v2 "
                        "when its weights are here, else demo-shapes); see `sightline models`")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    parser.add_argument("--score", type=float, default=0.5, help="keep detections at or above this score (default 0.5)")
    parser.add_argument("--size", type=int_between(32, MAX_SIZE), default=None, help="inference shorter side in pixels (default: the model's own)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="images per model call (default 1 on CPU, 4 on CUDA)")
    parser.add_argument("--out", type=Path, default=None, help="write COCO JSON results here")
    parser.add_argument("--csv", type=Path, default=None, help="write one CSV row per detection here")
    parser.add_argument("--overlays", type=Path, default=None, help="write a PNG per image with detections drawn")
    add_video_arguments(parser)
    detect_cluster.add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Video options; the video module adds its handling when present."""
    try:
        from engine.commands import detect_video
    except ImportError:
        return
    detect_video.add_arguments(parser)


def make_detector(args: argparse.Namespace):
    """The Detector the arguments ask for, downloading missing weights first (with a bar)."""
    from engine.detect import Detector

    name = args.model or default_model_name()
    if name in REGISTRY:
        bar = None

        def show(progress) -> None:
            nonlocal bar
            bar = bar or console.ProgressBar(max(1, progress.total // 2**20), f"download {name} (MiB)")
            bar.update(progress.done // 2**20)

        ensure_weights(name, progress=show)
        if bar:
            bar.close()
    detector = Detector(name, device=args.device, size=args.size, batch_size=args.batch_size)
    detector.set_score_floor(args.score)  # boxes under --score never reach the mask/keypoint heads
    return detector


def detect_images(detector, paths: list[Path], args, summary: Summary, items: list[ExportItem]) -> None:
    """Images in batches of --batch-size per model call, decoded ahead on a background thread;
    results go into `items` as they come, so Ctrl-C keeps them."""
    names = overlay_names(paths) if args.overlays else {}
    bar = console.ProgressBar(len(paths), "detect")
    try:
        for index, result in enumerate(detect_files(detector, paths)):
            if result.failure:
                summary.failures.append(ImageFailure(str(result.path), result.failure))
            else:
                kept = result.detections.filter(min_score=args.score)
                summary.done += 1
                summary.detections += len(kept)
                items.append(ExportItem(str(result.path), kept))
                if args.overlays:
                    _write_overlay(result.image, kept, args.overlays / names[result.path], summary)
            summary.seen = index + 1
            bar.update(index + 1, f"{summary.detections} detections")
    finally:
        bar.close()


def _write_overlay(image, kept: Detections, target: Path, summary: Summary) -> None:
    try:
        write_bytes_atomic(target, encode_png(draw_detections(image, kept)))
    except OSError as exc:
        summary.failures.append(ImageFailure(str(target), f"overlay not written: {describe_os_error(exc)}"))


def _interrupted(paths: list[Path], summary: Summary) -> None:
    left = len(paths) - summary.seen
    sys.stderr.write("\n")
    console.error(f"interrupted after {summary.seen} of {len(paths)} images; the results done so far are kept")
    summary.failures.append(ImageFailure(f"{left} images", "not analysed (interrupted)"))


def run(args: argparse.Namespace) -> int:
    if args.cluster:
        return detect_cluster.run(args)
    if not 0.0 <= args.score <= 1.0:
        console.error(f"--score must be between 0 and 1, got {args.score}")
        return EXIT_USAGE
    inputs = scan_for_run(args)
    if inputs is None:
        return EXIT_USAGE
    scan, summary = inputs
    try:
        detector = make_detector(args)
    except (UnknownModel, WeightsError, DeviceError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    sys.stderr.write(f"model {detector.name} on {detector.device_info.description}\n")
    items: list[ExportItem] = []
    try:
        if scan.images:
            detect_images(detector, scan.images, args, summary, items)
    except KeyboardInterrupt:
        _interrupted(scan.images, summary)
        summary.failures += [ImageFailure(str(p), "not analysed (interrupted)") for p in scan.videos]
        scan.videos = []
    items += _detect_videos(detector, scan.videos, args, summary)
    outcomes = write_results(args, items, detector)
    summary.report()
    if any(o.error for o in outcomes):
        return EXIT_FAILURES
    return EXIT_FAILURES if summary.failures else EXIT_OK


def _detect_videos(detector, videos: list[Path], args, summary: Summary) -> list[ExportItem]:
    if not videos:
        return []
    try:
        from engine.commands import detect_video
    except ImportError:
        summary.skipped += len(videos)
        return []
    return detect_video.detect_videos(detector, videos, args, summary)
