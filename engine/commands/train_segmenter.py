"""`sightline train-segmenter FOLDER`: train a U-Net that gives every pixel a class.

Data: a COCO instances file (`--annotations`, default FOLDER/annotations.json or the only
.json in FOLDER), or the masks accepted in the review store for the images and videos under
FOLDER (`--from-review`). The data summary and final metrics go to stdout; the progress bar
and one line per epoch to stderr. The first Ctrl-C stops and keeps the best epoch; a second
aborts without writing anything.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch

from engine import console
from engine.commands.train import Bars, _CtrlC
from engine.console import EXIT_OK, EXIT_USAGE
from engine.devices import DEVICE_CHOICES, DeviceError
from engine.segment.data import DataError, SegmentationData, find_annotations, load_coco
from engine.segment.model_file import save_segmenter
from engine.segment.train import SegmenterEpoch, SegmenterSettings, SegmenterTraining, train_segmenter
from engine.train.checkpoint import default_model_path
from engine.types import CancelToken

DEFAULTS = SegmenterSettings()


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train-segmenter", help="train a U-Net segmenter from a COCO file or reviewed masks",
        description="Train a U-Net that labels every pixel (background or one of the classes) from a "
        "COCO instances file or from the masks accepted in the review store.")
    add = parser.add_argument
    add("folder", metavar="FOLDER", help="folder of the images (and videos, with --from-review)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--annotations", type=Path, default=None,
                        help="COCO instances file (default FOLDER/annotations.json or the only .json in FOLDER)")
    source.add_argument("--from-review", action="store_true", help="use the masks accepted in the review store")
    add("--review-model", action="append", default=None, metavar="NAME",
        help="with --from-review: only results of this detector (repeatable; default: every registry model)")
    add("--epochs", type=int, default=DEFAULTS.epochs, help="default %(default)s")
    add("--image-size", type=int, default=DEFAULTS.image_size,
        help="working size: the longer side the network sees, in pixels (default %(default)s)")
    add("--batch-size", type=int, default=DEFAULTS.batch_size, help="default %(default)s")
    add("--lr", type=float, default=DEFAULTS.lr, help="AdamW learning rate (default %(default)s)")
    add("--patience", type=int, default=DEFAULTS.patience,
        help="early stopping: epochs without a better validation mean IoU (0: off; default %(default)s)")
    add("--val-fraction", type=float, default=DEFAULTS.val_fraction, help="default %(default)s")
    add("--seed", type=int, default=DEFAULTS.seed, help="default %(default)s")
    add("--base-channels", type=int, default=DEFAULTS.base, help="U-Net width (default %(default)s)")
    add("--crops-per-epoch", type=int, default=DEFAULTS.samples_per_epoch,
        help="random crops per epoch; small folders are cycled through (default %(default)s)")
    add("--max-minutes", type=float, default=None, help="stop after the epoch that passes this time, keep the best")
    add("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own)")
    add("--device", default="auto", help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    add("--name", default="", help="model name (default: the folder name)")
    add("--out", default=None, help="model file (or folder) to write (default: a new file in the user models folder)")
    parser.set_defaults(run=run)
    return parser


def epoch_line(e: SegmenterEpoch) -> str:
    return (f"epoch {e.epoch:>3}/{e.epochs}  train loss {e.train_loss:.4f} pixel acc {e.train_pixel_accuracy:6.1%}  "
            f"val mIoU {e.val_mean_iou:.3f} foreground IoU {e.val_foreground_iou:.3f}  lr {e.lr:.2e}  "
            f"{e.seconds:.1f}s{' *best' if e.best else ''}")


def read_data(args, bars: Bars) -> SegmentationData:
    try:
        if args.from_review:
            from engine.segment.review_source import load_review

            return load_review(args.folder, args.image_size, models=args.review_model, progress=bars)
        annotations = args.annotations or find_annotations(args.folder)
        return load_coco(annotations, args.folder, args.image_size, progress=bars)
    finally:
        bars.close()


def settings_of(args) -> SegmenterSettings:
    if min(args.epochs, args.image_size, args.batch_size, args.base_channels, args.crops_per_epoch) < 1 or not 0 <= args.val_fraction < 1:
        raise ValueError("--epochs, --image-size, --batch-size, --base-channels and --crops-per-epoch must be "
                         "1 or more, --val-fraction in [0, 1)")
    name = args.name or Path(os.path.abspath(args.folder)).name or "segmenter"
    return SegmenterSettings(epochs=args.epochs, image_size=args.image_size, batch_size=args.batch_size, lr=args.lr,
                             patience=args.patience, val_fraction=args.val_fraction, seed=args.seed,
                             base=args.base_channels, samples_per_epoch=args.crops_per_epoch, max_minutes=args.max_minutes, device=args.device, name=name)


def report(data: SegmentationData) -> list[str]:
    counts = data.pixel_counts()
    total = max(1, int(counts.sum()))
    lines = [f"{len(data.samples)} images, {len(data.class_names) - 1} classes: " +
             ", ".join(f"{n} {c / total:.1%}" for n, c in zip(data.class_names, counts)) + " of labelled pixels"]
    lines += [f"left out: {f.path}: {f.reason}" for f in data.failures]
    return lines


def _fmt(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def write_model(args, result: SegmenterTraining) -> Path:
    out = args.out
    if out and (Path(out).is_dir() or out.endswith(("/", os.sep))):
        out = default_model_path(result.file.name, Path(out))
    return save_segmenter(result.file, out)


def run(args: argparse.Namespace) -> int:
    bars, stop = Bars(), CancelToken()
    try:
        settings = settings_of(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        data = read_data(args, bars)
        print("\n".join(report(data)))
        print(f"training a U-Net ({settings.base} base channels) for up to {settings.epochs} epochs at "
              f"{settings.image_size}px, crops {settings.crop}px, batch {settings.batch_size}, lr {settings.lr:g}")
        with _CtrlC(stop, bars):
            result = train_segmenter(data, settings, progress=bars, stop=stop,
                                     on_epoch=lambda e: bars.write(epoch_line(e)))
        bars.close()
        path = write_model(args, result)
    except (DataError, ValueError, DeviceError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        console.error(f"cannot write the model file: {exc}")
        return EXIT_USAGE
    found = result.file.metrics
    print(f"best epoch {result.best_epoch} of {len(result.history)} ({result.stop_reason}); "
          f"validation on {found['validation']} ({result.val_images})")
    print(f"mean IoU {_fmt(found.get('mean_iou'))}  foreground IoU {_fmt(found.get('foreground_iou'))}  " +
          "  ".join(f"{k} {_fmt(v)}" for k, v in (found.get("iou") or {}).items()))
    if "at_own_size" in found:
        before, after = found["at_own_size"]["without_bias"], found["at_own_size"]["with_bias"]
        print(f"background bias {result.file.background_bias:+.2f} (chosen on the validation images at their own "
              f"size: mean IoU {_fmt(before.get('mean_iou'))} -> {_fmt(after.get('mean_iou'))}, "
              f"foreground IoU {_fmt(before.get('foreground_iou'))} -> {_fmt(after.get('foreground_iou'))})")
    print(f"model written to {path}")
    return EXIT_OK
