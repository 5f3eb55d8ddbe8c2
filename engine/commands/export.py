"""`sightline export [PATH...] --out FILE|DIR`: reviewed results from the review store to COCO
JSON, CSV or annotated images, without opening the window (and without running a model).
`--crops DIR` instead cuts every accepted or relabelled detection out into DIR/<final class>/
(`--margin`, `--cut-out`): classifier training data for `sightline train DIR`.

PATH are images, videos or folders (recursive) whose results the store holds; no PATH exports
everything in the store. Each annotation carries its review state, the model's class where a
reviewer relabelled it, and a classifier's label where one was stored for it.
Exit 0 when something was exported, 1 when the store holds nothing for the selection, 2 on a
usage or store error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import console
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.review.exporting import (COCO, CROPS, CSV, IMAGES, INCLUDE_ACCEPTED, INCLUDE_ALL, INCLUDE_NOT_REJECTED,
                                     ExportError, ExportRequest, export_results)
from engine.store import ReviewStore, StoreError, default_store_path, media_key
from engine.types import Progress

FORMATS = (COCO, CSV, IMAGES)


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export reviewed results from the review store (COCO, CSV, annotated images)",
        description="Reviewed results from the review store, with their decisions, as COCO JSON, CSV or "
                    "annotated images. No model runs.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="images, videos or folders whose results to export (default: the whole store)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="FILE.json (COCO), FILE.csv, or a folder for annotated images")
    where.add_argument("--crops", type=Path, metavar="DIR",
                       help="cut each accepted or relabelled detection out into DIR/<final class>/ (classifier data)")
    parser.add_argument("--margin", type=_margin, default=0.1,
                        help="--crops: context around each box, a share of its size on every side (default 0.1)")
    parser.add_argument("--cut-out", action="store_true",
                        help="--crops: black outside the detection's mask (where the model made masks)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="coco, csv or images (default: from --out: .json, .csv, else images)")
    parser.add_argument("--model", default=None,
                        help="only this model's results (needed when the selection holds several)")
    include = parser.add_mutually_exclusive_group()
    include.add_argument("--accepted-only", action="store_const", dest="include", const=INCLUDE_ACCEPTED,
                         help="only detections accepted or relabelled by a reviewer")
    include.add_argument("--include", choices=(INCLUDE_ALL, INCLUDE_NOT_REJECTED, INCLUDE_ACCEPTED),
                         dest="include", help="by review state (default not_rejected: all but rejected)")
    parser.add_argument("--score", type=_score, default=0.0, help="lowest score exported (default 0)")
    parser.add_argument("--reviewed-only", action="store_true", help="only images and frames marked reviewed")
    parser.add_argument("--store", type=Path, default=None,
                        help=f"the review store file (default {default_store_path()})")
    parser.set_defaults(run=run, include=INCLUDE_NOT_REJECTED)
    return parser


def _between(low: float, high: float):
    """An argparse type: a number from `low` to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low:g} and {high:g}")
        return value

    return parse


_score, _margin = _between(0.0, 1.0), _between(0.0, 2.0)


def output_format(args) -> str:
    if args.crops is not None:
        return CROPS
    if args.format:
        return args.format
    suffix = args.out.suffix.lower()
    return COCO if suffix == ".json" else CSV if suffix == ".csv" else IMAGES


def select_entries(store: ReviewStore, paths: list[str], model: str | None) -> list:
    """The stored results of `paths` (files, or folders searched recursively; all when
    empty), in the store's path order."""
    entries = store.entries(model=model)
    if not paths:
        return entries
    files = {media_key(p) for p in paths if not os.path.isdir(p)}
    folders = tuple(os.path.join(media_key(p), "") for p in paths if os.path.isdir(p))
    return [e for e in entries if e.path in files or e.path.startswith(folders)]


def run(args) -> int:
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        console.error(f"not found: {', '.join(missing)}")
        return EXIT_USAGE
    store_path = args.store or default_store_path()
    if not Path(store_path).is_file():
        console.error(f"no review store at {store_path}: nothing has been analysed there yet")
        return EXIT_USAGE
    try:
        store = ReviewStore(store_path)
    except StoreError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    try:
        return _export(args, store)
    finally:
        store.close()


def _export(args, store: ReviewStore) -> int:
    entries = select_entries(store, [str(p) for p in args.paths], args.model)
    models = sorted({e.model for e in entries})
    if len(models) > 1:
        console.error(f"the selection holds results of several models ({', '.join(models)}): choose one with --model")
        return EXIT_USAGE
    if not entries:
        where = ", ".join(args.paths) or "the review store"
        sys.stderr.write(f"nothing to export: {where} holds no results"
                         f"{' of ' + args.model if args.model else ''}\n")
        return EXIT_FAILURES
    kind = output_format(args)
    if kind == CROPS:
        args.out = args.crops
    elif args.format == CROPS:
        console.error("use --crops DIR for crops of accepted detections")
        return EXIT_USAGE
    if kind not in (IMAGES, CROPS) and args.out.is_dir():
        console.error(f"{args.out} is a folder: give a file name ending in .json or .csv")
        return EXIT_USAGE
    request = ExportRequest(kind, args.out, [e.path for e in entries], models[0], min_score=args.score,
                            include=args.include, only_reviewed=args.reviewed_only, entries=entries,
                            margin=args.margin, cut_out=args.cut_out)
    bar = console.ProgressBar(len(entries), "exporting")
    try:
        report = export_results(request, store, progress=lambda p: _show(bar, p))
    except (ExportError, OSError) as exc:
        bar.close()
        console.error(str(exc))
        return EXIT_USAGE
    bar.close()
    sys.stderr.write(f"{report.images} images or frames, {report.detections} detections exported to "
                     f"{args.out}; {report.failed} failed, {report.not_analysed} not analysed\n")
    if kind == CROPS and report.detections:
        sys.stderr.write(f"train a classifier on them: sightline train {args.out}\n")
    return EXIT_OK


def _show(bar, progress: Progress) -> None:
    bar.update(progress.done, progress.message)
