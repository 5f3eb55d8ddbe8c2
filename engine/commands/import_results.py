"""`sightline import RESULTS.json`: read a COCO results file into the review store, so the
window shows those detections (and any review states in the file) without running a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import console
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.import_results import ResultsFileError, import_results
from engine.store import ReviewStore, StoreError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import", help="read a COCO results file into the review store",
        description="Read a COCO results file (from `sightline detect --out`, on this machine or a cluster, or "
        "a window export) into the review store: opening those images in the window then shows the detections "
        "without running the model.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="a COCO results file")
    parser.add_argument("--model", default=None, help="the model to store them under (default: the one the file "
                        "names); the window shows them when this model is chosen")
    parser.add_argument("--root", type=Path, default=None, help="folder that relative file names are under "
                        "(default: the current folder, then the results file's folder)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        store = ReviewStore()
    except StoreError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    bar = console.ProgressBar(0, "import")

    def show(progress) -> None:
        bar.total = progress.total
        bar.update(progress.done, progress.message)

    try:
        report = import_results(args.results, store, model=args.model, root=args.root, progress=show)
    except ResultsFileError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    finally:
        store.close()
    bar.close()
    sys.stderr.write(f"{report.images} images imported ({report.detections} detections) as results of "
                     f"{report.model} into {store.path}, {len(report.failures)} failed\n")
    for failure in report.failures:
        sys.stderr.write(f"  failed: {failure.path}: {failure.reason}\n")
    return EXIT_FAILURES if report.failures else EXIT_OK
