"""`sightline explain PATH... --model MODEL --out DIR`: what the network looked at, as maps.

For each image, `DIR/<stem>-<method>.npy` (float32, the image's height x width, 0..1) and
`DIR/<stem>-<method>.png` (the map over the image). A detector gives one map per detection at
or above `--score`: `<stem>-occlusion-<n>.npy` (n = 1 for the best-scoring). `features`
writes `<stem>-features-<stage>.npy` ((K, H, W): the K strongest channels) and a PNG grid per
stage; `filters` writes `<model>-filters.npy` ((N, kh, kw, 3)) and `.png` once. One line per
written map on stdout; a summary on stderr naming every image that failed and why. Exit 0
when every image was explained, 1 when some failed, 2 for a usage or model error.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from engine import console
from engine.commands.classify import print_above
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.devices import DeviceError
from engine.explain.maps import grid, overlay, write_npy, write_png
from engine.explain.types import METHODS
from engine.images import ImageLoadError, load_image, scan_paths
from engine.models import UnknownModel
from engine.types import ImageFailure
from engine.weights import WeightsError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain", help="what a classifier or detector looked at: Grad-CAM, occlusion, feature maps, filters",
        description="Heatmaps (.npy, float32, image height x width, 0..1) and overlays (.png) for images and "
        "folders (recursive).",
    )  # fmt: skip
    parser.add_argument("paths", nargs="*", metavar="PATH", help="images or folders (none needed for filters)")
    parser.add_argument("--model", required=True, help="classifier file or name, detector name or weights file")
    parser.add_argument("--method", default="gradcam", choices=METHODS, help="default gradcam (classifiers only); "
                        "detectors: occlusion, features, filters")  # fmt: skip
    parser.add_argument("--target", default=None, help="classifier: the class to explain (default: the predicted "
                        "one); detector: only detections of this class")  # fmt: skip
    parser.add_argument("--score", type=float, default=0.5, help="detector: explain detections at or above this score")
    parser.add_argument("--layer", default="layer4", help="Grad-CAM: the ResNet stage (layer1..layer4, default layer4)")
    parser.add_argument("--stage", action="append", default=None, help="features: a stage to show (repeatable; "
                        "default all: layer1.. and fpn0.. for detectors)")  # fmt: skip
    parser.add_argument("--top", type=int, default=4, help="features: channels per stage (default 4)")
    parser.add_argument("--patch", type=int, default=None, help="occlusion: patch side in pixels (default 1/8 of "
                        "the shorter side; classifiers: of their input)")  # fmt: skip
    parser.add_argument("--stride", type=int, default=None, help="occlusion: step in pixels (default: half the patch)")
    parser.add_argument("--opacity", type=float, default=0.5, help="of the map over the image in the PNG (default 0.5)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npy and .png files")
    parser.set_defaults(run=run)
    return parser


@dataclass
class Summary:
    done: int = 0
    maps: int = 0
    skipped: int = 0
    failures: list[ImageFailure] = field(default_factory=list)

    def report(self) -> None:
        console.report_summary(f"{self.done} images explained, {self.maps} maps written, {self.skipped} skipped "
                               f"(not images), {len(self.failures)} failed", self.failures)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "model"


class Writer:
    """Writes a map and its picture under DIR, never over an input image, with a distinct
    stem for images of the same name from different folders."""

    def __init__(self, folder: Path, inputs: list[Path]):
        self.folder = folder
        self.inputs = {p.resolve() for p in inputs}
        self.stems: dict[Path, str] = {}

    def stem(self, image_path: Path) -> str:
        if image_path not in self.stems:
            taken, stem, n = set(self.stems.values()), image_path.stem, 1
            while stem in taken:
                n += 1
                stem = f"{image_path.stem}-{n}"
            self.stems[image_path] = stem
        return self.stems[image_path]

    def write(self, name: str, array: np.ndarray, picture: np.ndarray) -> Path:
        npy, png = self.folder / f"{name}.npy", self.folder / f"{name}.png"
        if npy.resolve() in self.inputs or png.resolve() in self.inputs:
            raise OSError(f"{png} is one of the input images; choose another --out")
        write_npy(npy, array)
        write_png(png, picture)
        return npy


def _heatmaps(explainer, image, args, progress) -> list:
    """(name suffix, heatmap) pairs for a heatmap method."""
    if explainer.kind == "classifier":
        maps = explainer.heatmaps(image, args.method, args.target, layer=args.layer, patch=args.patch,
                                  stride=args.stride, progress=progress)  # fmt: skip
        return [("", maps[0])]
    detections = explainer.detect(image, args.score)
    if args.target:
        detections = detections.select(np.array([n == args.target for n in detections.names], bool))
    maps = explainer.heatmaps(image, "occlusion", detections=detections, patch=args.patch, stride=args.stride,
                              progress=progress)  # fmt: skip
    return [(f"-{n + 1}", heatmap) for n, heatmap in enumerate(maps)]


def explain_image(explainer, path: Path, writer: Writer, args, progress=None) -> list[str]:
    """Write this image's maps; returns one line per map for stdout."""
    image, stem, lines = load_image(path), writer.stem(path), []
    if args.method == "features":
        for maps in explainer.features(image, args.stage, args.top):
            tiles = [overlay(image, m, args.opacity) for m in maps.maps]
            written = writer.write(f"{stem}-features-{maps.stage}", maps.maps, grid(tiles, len(tiles)))
            channels = ", ".join(str(c) for c in maps.channels)
            lines.append(f"{path}\tfeatures {maps.stage} channels {channels}\t{written}")
        return lines
    for suffix, heatmap in _heatmaps(explainer, image, args, progress):
        written = writer.write(f"{stem}-{args.method}{suffix}", heatmap.values,
                               overlay(image, heatmap.values, args.opacity, heatmap.box))  # fmt: skip
        x, y = heatmap.peak
        lines.append(f"{path}\t{args.method} {heatmap.target} {heatmap.score:.3f} peak ({x}, {y})\t{written}")
    if not lines:
        lines.append(f"{path}\tno detections at or above {args.score:g}")
    return lines


def _check(args, explainer) -> Optional[str]:
    """A usage problem in words, or None."""
    if args.top < 1 or (args.patch is not None and args.patch < 1) or (args.stride is not None and args.stride < 1):
        return "--top, --patch and --stride must be at least 1"
    if not 0 <= args.opacity <= 1:
        return "--opacity must be between 0 and 1"
    try:
        explainer.check_method(args.method)
    except ValueError as exc:
        return str(exc)
    if args.target and args.target not in explainer.class_names:
        return f"no class '{args.target}' in {explainer.name}: its classes are {', '.join(explainer.class_names)}"
    if args.stage:
        known = explainer.stages()
        unknown = [s for s in args.stage if s not in known]
        if unknown:
            return f"unknown stage {', '.join(unknown)}: {explainer.name} has {', '.join(known)}"
    return None


def _open(args):
    from engine.explain import open_model

    try:
        return open_model(args.model, device=args.device)
    except (WeightsError, DeviceError, UnknownModel) as exc:
        console.error(str(exc))
        return None


def _write_filters(explainer, args) -> int:
    from engine.explain.maps import filter_grid

    filters = explainer.filters()
    writer = Writer(args.out, [])
    written = writer.write(f"{_slug(explainer.name)}-filters", filters.weights, filter_grid(filters.weights))
    sys.stdout.write(f"{explainer.name}\tfilters of {filters.layer} ({len(filters.weights)})\t{written}\n")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    scan = scan_paths(args.paths)
    summary = Summary(skipped=len(scan.skipped) + len(scan.videos))
    summary.failures += [ImageFailure(str(p), "file or folder not found") for p in scan.missing]
    if not scan.images and args.method != "filters":
        console.error(f"no images found in {', '.join(args.paths) or 'no paths'} ({summary.skipped} other files skipped)")
        return EXIT_USAGE
    explainer = _open(args)
    if explainer is None:
        return EXIT_USAGE
    problem = _check(args, explainer)
    if problem:
        console.error(problem)
        return EXIT_USAGE
    if args.method == "filters":
        return _write_filters(explainer, args)
    sys.stderr.write(f"{explainer.kind} {explainer.name}: {args.method} for {len(scan.images)} images\n")
    writer, bar = Writer(args.out, scan.images), console.ProgressBar(len(scan.images), "explain")
    for index, path in enumerate(scan.images):
        progress = lambda p, i=index: bar.update(i, f"{p.message} {p.done}/{p.total}")  # noqa: E731
        try:
            lines = explain_image(explainer, path, writer, args, progress)
        except (ImageLoadError, OSError) as exc:
            summary.failures.append(ImageFailure(str(path), getattr(exc, "reason", None) or str(exc)))
            continue
        for line in lines:
            print_above(bar, line)
        summary.done += 1
        summary.maps += sum("\tno detections" not in line for line in lines)
        bar.update(index + 1)
    bar.close()
    summary.report()
    return EXIT_FAILURES if summary.failures else EXIT_OK

