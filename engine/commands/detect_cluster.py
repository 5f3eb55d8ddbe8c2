"""`sightline detect PATH... --cluster ADDRESS|auto`: the same detection, run on a Ray cluster.

Same inputs, options and outputs as a local run. Results are kept per image (and per video
frame, with a marker per finished video segment) in shards beside the first output (`--out`,
else `--csv`, else the `--overlays` folder) as they arrive, so a rerun of the same command
after a crash or Ctrl-C skips the finished images and segments; COCO and CSV are then written
from all kept results, in the order the images are listed, then each video's frames in order.
"""

from __future__ import annotations

import argparse
import sys
from itertools import chain
from pathlib import Path

from engine import console
from engine.cluster_video import SegmentEnd, frame_key
from engine.commands.detect_cluster_video import frame_items, pending_segments, plan_videos, save_videos
from engine.commands.detect_outputs import scan_for_run
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.export import ExportItem, write_bytes_atomic
from engine.export_stream import write_streamed
from engine.models import REGISTRY, UnknownModel, default_model_name, get_spec
from engine.result_shards import ResultShards, ShardsError, shards_beside
from engine.types import Detections, ImageFailure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a Ray cluster (needs `pip install sightline[cluster]`)")
    group.add_argument("--cluster", metavar="ADDRESS|auto", default=None,
                       help="run on the Ray cluster at ADDRESS (host:port or ray://host:port); auto: the one "
                       "started here with `ray start --head`")
    group.add_argument("--gpus-per-worker", type=float, default=None, metavar="F",
                       help="GPUs each detector worker reserves (default 1 where the cluster has GPUs, else 0)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="detector workers (default: one per GPU, or one per 4 CPUs)")


def _usage_problem(args: argparse.Namespace) -> str:
    if not 0.0 <= args.score <= 1.0:
        return f"--score must be between 0 and 1, got {args.score}"
    if not (args.out or args.csv or args.overlays):
        return "--cluster needs --out, --csv or --overlays: results are kept beside it so a rerun can resume"
    model = args.model or ""
    if model and model not in REGISTRY and Path(model).suffix.lower() not in (".pt", ".pth"):
        return str(UnknownModel(model))  # a weights file is looked for on the workers
    return ""


def _overlay_names(paths: list[Path]) -> dict[str, str]:
    """The same overlay names a local run gives (keyed by the path as a string)."""
    from engine.commands.detect_outputs import overlay_names

    return {str(p): name for p, name in overlay_names(paths).items()}


def run(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        console.error(problem)
        return EXIT_USAGE
    try:
        from engine import cluster
    except ImportError as exc:
        console.error(f"--cluster needs Ray ({exc.name or exc} is not installed): pip install 'sightline[cluster]'")
        return EXIT_USAGE
    inputs = scan_for_run(args)
    if inputs is None:
        return EXIT_USAGE
    scan, summary = inputs
    videos = plan_videos(scan.videos, args, summary)
    model = args.model or default_model_name()
    shards = ResultShards(shards_beside(Path(args.out or args.csv or args.overlays)),
                          {"model": model, "size": args.size, "score": args.score})
    try:
        shards.open()
        todo, segments = shards.pending(scan.images), pending_segments(shards, videos)
        plan = _connect(cluster, args, bool(todo or segments))
    except (ShardsError, cluster.ClusterError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    _say_what_is_left(model, scan.images, todo, videos, segments, shards, plan)
    if todo or segments:
        _detect_remaining(cluster, todo, segments, plan, model, shards, args, summary, scan.images)
    unavailable = [f for f in summary.failures if cluster.MODEL_UNAVAILABLE in f.reason]
    if unavailable and len(unavailable) == len(todo) + len(segments):  # as a local run: a model error
        console.error(unavailable[0].reason)
        return EXIT_USAGE
    _write_outputs(shards, scan.images, videos, args, model, summary)
    if args.save_video and videos:
        save_videos(shards, videos, args, summary, several=len(scan.videos) > 1)
    summary.report()
    return EXIT_FAILURES if summary.failures else EXIT_OK


def _say_what_is_left(model: str, images: list, todo: list, videos: list, segments: list, shards, plan) -> None:
    segments_note = ""
    if videos:
        total = sum(len(v.segments) for v in videos)
        segments_note = f", {total - len(segments)} of {total} video segments done before, {len(segments)} to go"
    sys.stderr.write(f"model {model}: {len(images) - len(todo)} images done before (kept in {shards.folder}), "
                     f"{len(todo)} to go{segments_note}{' on ' + plan.describe() if plan else ''}\n")


def _connect(cluster, args, work_left: bool):
    """The worker plan, once connected; None (and no connection) when nothing is left to do."""
    if not work_left:
        return None
    sys.stderr.write(f"cluster {args.cluster}: {cluster.connect(args.cluster)}\n")
    return cluster.plan_workers(args.gpus_per_worker, args.workers)


def _detect_remaining(cluster, todo: list, segments: list, plan, model: str, shards: ResultShards, args, summary,
                      images: list[Path]) -> None:
    """Run the images and video segments not done yet on the cluster, keeping each result as it comes."""
    settings = cluster.DetectSettings(model=model, device=args.device, size=args.size,
                                      batch_size=args.batch_size, score=args.score, overlays=bool(args.overlays),
                                      video_batch=args.video_batch or args.batch_size)
    total = len(todo) + sum(len(segment.frames) for segment in segments)
    try:
        _collect(cluster.detect_on_cluster(todo, settings, plan, segments=segments), total, shards, args, summary,
                 _overlay_names(images) if args.overlays else {})
    except KeyboardInterrupt:
        sys.stderr.write(f"\nstopped: finished images and video segments are kept in {shards.folder}; run the "
                         "same command again to go on from there\n")
        raise
    finally:
        shards.flush()


def _collect(results, total: int, shards: ResultShards, args, summary, overlay_names: dict[str, str]) -> None:
    """Keep each result as it arrives; write its overlay at once; mark finished segments."""
    bar = console.ProgressBar(total, "detect")
    count = 0
    for result in results:
        if isinstance(result, SegmentEnd):
            if result.failure:
                summary.failures.append(ImageFailure(result.segment.describe(), result.failure))
            if result.complete:
                shards.mark(result.segment.key)
            continue
        count += 1
        video = result.frame_index >= 0
        if result.detections is None:
            where = f"{result.path} (frame {result.frame_index})" if video else result.path
            summary.failures.append(ImageFailure(where, result.failure))
        elif video:
            shards.add(frame_key(result.path, result.frame_index), result.detections)
        else:
            if result.overlay:  # first: a kept result always has its overlay
                write_bytes_atomic(args.overlays / overlay_names[result.path], result.overlay)
            shards.add(result.path, result.detections)
        bar.update(count, f"{len(summary.failures)} failed")
    bar.close()


def _categories(shards: ResultShards, model: str):
    vocabulary = shards.run_info.get("vocabulary")
    if vocabulary:
        return Detections.empty((1, 1), vocabulary["classes"], keypoint_names=tuple(vocabulary["keypoint_names"]),
                                skeleton=tuple(tuple(p) for p in vocabulary["skeleton"]))
    if model in REGISTRY:
        spec = get_spec(model)
        return Detections.empty((1, 1), spec.categories, keypoint_names=spec.keypoint_names, skeleton=spec.skeleton)
    return None


def _write_outputs(shards: ResultShards, images: list[Path], videos: list, args, model: str, summary) -> None:
    """COCO and CSV from every kept result (this run's and earlier runs'), in listing order."""
    items = chain((ExportItem(path, det) for path, det in shards.merged(images)), frame_items(shards, videos))
    name = shards.run_info.get("model_name") or model
    summary.done, summary.detections = write_streamed(items, args.out, args.csv, name, _categories(shards, model))
    for path in (args.out, args.csv):
        if path:
            sys.stderr.write(f"wrote {path}\n")
