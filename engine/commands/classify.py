"""`sightline classify PATH... --model MODEL`: top-k labels with probabilities for each image.

One line per image on stdout (`path<TAB>label 0.931, label 0.052, ...`); a summary on stderr
naming every image that could not be read. Folders are searched recursively; files that are
not images are skipped and counted. Exit 0 when every image was classified, 1 when some could
not be read, 2 for a usage, model or device error. `--out` writes a CSV atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from engine import console
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.commands.scan_report import nothing_found_message, scan_failures
from engine.devices import DEVICE_CHOICES, DeviceError
from engine.export import write_text_atomic
from engine.images import ImageLoadError, load_image, scan_paths
from engine.outputs import InputSet, check_output_file, write_or_recover
from engine.types import ImageFailure
from engine.weights import WeightsError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "classify", help="label images with a classifier trained by `sightline train`",
        description="Top-k labels and probabilities for images and folders (recursive).",
    )  # fmt: skip
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images or folders")
    parser.add_argument("--model", required=True, help="classifier file, or the name of one in the user models folder")
    parser.add_argument("--top-k", type=int, default=3, help="labels per image (default %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="write a CSV of the results here")
    parser.add_argument("--device", default="auto", help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    parser.add_argument("--batch-size", type=int, default=None, help="images per model call (default 16 CPU, 64 CUDA)")
    parser.set_defaults(run=run)
    return parser


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failures: list[ImageFailure] = field(default_factory=list)

    def report(self, stream=None) -> None:
        console.report_summary(f"{self.done} images classified, {self.skipped} skipped (not images), "
                               f"{len(self.failures)} failed", self.failures, stream)  # fmt: skip


def format_prediction(prediction: list[tuple[str, float]]) -> str:
    return ", ".join(f"{label} {probability:.3f}" for label, probability in prediction)


def csv_text(rows: list[tuple[str, list[tuple[str, float]], str]], top_k: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path"] + [f"{kind}_{i}" for i in range(1, top_k + 1) for kind in ("label", "probability")]
    writer.writerow(header + ["error"])
    for path, prediction, error in rows:
        cells = [c for label, p in prediction for c in (label, f"{p:.6f}")]
        writer.writerow([path] + cells + [""] * (2 * top_k - len(cells)) + [error])
    return buffer.getvalue()


def print_above(bar, text: str) -> None:
    """A result line on stdout; on a terminal the bar's line (stderr) is cleared first."""
    if bar.tty:
        bar.stream.write("\r\x1b[K")
        bar.stream.flush()
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _load_batch(paths: list[Path]) -> list[tuple[str, object]]:
    """(path, image array or ImageLoadError) for each path, in order."""
    loaded = []
    for path in paths:
        try:
            loaded.append((str(path), load_image(path)))
        except ImageLoadError as exc:
            loaded.append((str(path), exc))
    return loaded


def classify_paths(classifier, paths: list[Path], top_k: int, summary: Summary) -> list:
    """Classify in batches; prints one line per image; returns CSV rows in input order."""
    rows, bar = [], console.ProgressBar(len(paths), "classify")
    for start in range(0, len(paths), classifier.batch_size):
        loaded = _load_batch(paths[start : start + classifier.batch_size])
        images = [item for _, item in loaded if not isinstance(item, ImageLoadError)]
        predictions = iter(classifier.predict(images, top_k) if images else [])
        for name, item in loaded:
            if isinstance(item, ImageLoadError):
                summary.failures.append(ImageFailure(name, item.reason))
                rows.append((name, [], item.reason))
                continue
            prediction = next(predictions)
            print_above(bar, f"{name}\t{format_prediction(prediction)}")
            rows.append((name, prediction, ""))
            summary.done += 1
        bar.update(min(len(paths), start + classifier.batch_size))
    bar.close()
    return rows


def load_classifier(args) -> Optional[object]:
    from engine.classify import Classifier, find_classifier

    try:
        return Classifier(find_classifier(args.model), device=args.device, batch_size=args.batch_size)
    except (WeightsError, DeviceError) as exc:
        console.error(str(exc))
        return None


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1 or (args.batch_size is not None and args.batch_size < 1):
        console.error("--top-k and --batch-size must be at least 1")
        return EXIT_USAGE
    scan = scan_paths(args.paths)
    summary = Summary(skipped=len(scan.skipped) + len(scan.videos))
    summary.failures += scan_failures(scan)
    if not scan.images:
        console.error(nothing_found_message(args.paths, scan, "images", summary.skipped))
        return EXIT_USAGE
    problems = check_output_file(args.out, InputSet(scan.images), "--out")
    if problems:
        console.error("; ".join(problems))
        return EXIT_USAGE
    classifier = load_classifier(args)
    if classifier is None:
        return EXIT_USAGE
    sys.stderr.write(f"classifier {classifier.name} ({len(classifier.class_names)} classes) on "
                     f"{classifier.device_info.description}\n")  # fmt: skip
    rows = classify_paths(classifier, scan.images, args.top_k, summary)
    rows += [(f.path, [], f.reason) for f in scan_failures(scan)]
    if args.out:
        text = csv_text(rows, min(args.top_k, len(classifier.class_names)))
        outcome = write_or_recover(args.out, lambda path: write_text_atomic(path, text))
        console.report_write(outcome)
        if outcome.error:
            return EXIT_FAILURES
    summary.report()
    return EXIT_FAILURES if summary.failures else EXIT_OK
