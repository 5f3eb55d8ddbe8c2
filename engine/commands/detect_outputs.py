"""The output side of `sightline detect`: every output location checked before the model runs
(none may land on an input, each must be writable), and the result files written at the end,
to a recovery file in the user's data folder when the wanted path fails."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from engine import console
from engine.export import ExportItem, write_coco, write_csv
from engine.commands.scan_report import nothing_found_message, scan_failures
from engine.commands.summary import Summary
from engine.images import FileScan, scan_paths
from engine.outputs import InputSet, WriteOutcome, check_output_file, check_output_folder, same_outputs, write_or_recover
from engine.types import Detections


def scan_for_run(args) -> Optional[tuple[FileScan, Summary]]:
    """The inputs a detect run (here or on a cluster) will use and its summary, started with
    what cannot be used; None once it has said why nothing can run (exit status 2)."""
    scan = scan_paths(args.paths)
    summary = Summary(skipped=len(scan.skipped))
    summary.failures += scan_failures(scan)
    if not scan.images and not scan.videos:
        console.error(nothing_found_message(args.paths, scan))
        return None
    problems = output_problems(args, scan)
    for problem in problems:
        console.error(problem)
    return None if problems else (scan, summary)


def overlay_names(paths: list[Path]) -> dict[Path, str]:
    """The overlay PNG name of each image: `<stem>.png`, numbered when stems repeat."""
    names, used = {}, set()
    for path in paths:
        name, n = f"{path.stem}.png", 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}.png"
        used.add(name)
        names[path] = name
    return names


def _video_targets(out: Optional[Path], videos: list[Path]) -> list[Path]:
    """Every file `--save-video` could write (with the codec fallbacks)."""
    if out is None:
        return []
    from engine.commands.detect_video import video_output_path
    from engine.video import codec_plan

    used: set = set()
    targets = [video_output_path(out, v, len(videos) > 1, used) for v in videos] or [out]
    return [target for each in targets for _, target in codec_plan(each)]


def output_problems(args, scan: FileScan) -> list[str]:
    """Why the outputs asked for cannot be written, found before any inference."""
    inputs = InputSet(scan.images + scan.videos)
    save_video = getattr(args, "save_video", None)
    problems = same_outputs({"--out": args.out, "--csv": args.csv})
    problems += check_output_file(args.out, inputs, "--out")
    problems += check_output_file(args.csv, inputs, "--csv")
    if args.overlays is not None:
        planned = [args.overlays / name for name in overlay_names(scan.images).values()]
        problems += check_output_folder(args.overlays, inputs, "--overlays", planned)
    for target in _video_targets(save_video, scan.videos):
        problems += check_output_file(target, inputs, "--save-video")
    return list(dict.fromkeys(problems))


def write_results(args, items: list[ExportItem], detector) -> list[WriteOutcome]:
    """--out and --csv written (atomically); a failed one goes to a recovery file, said on stderr."""
    outcomes = []
    if args.out:
        categories = Detections.empty((1, 1), detector.class_names, keypoint_names=detector.spec.keypoint_names,
                                      skeleton=detector.spec.skeleton)
        outcomes.append(write_or_recover(args.out, lambda p: write_coco(p, items, detector.name,
                                                                        categories_from=categories)))
    if args.csv:
        outcomes.append(write_or_recover(args.csv, lambda p: write_csv(p, items)))
    for outcome in outcomes:
        console.report_write(outcome)
    return outcomes
