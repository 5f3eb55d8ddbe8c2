"""`sightline train-detector FOLDER`: fine-tune a detector on reviewed images (the accepted and
relabelled detections in the review store) or on a COCO instances file.

The data report, the plan (base model, new classes) and the held-out scores before and after
go to stdout; the progress bar and one line per epoch to stderr. The first Ctrl-C stops and
keeps the best epoch (the model is still written); a second aborts without writing anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import console
from engine.commands.train import Bars, _CtrlC, write_model
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.devices import DEVICE_CHOICES, DeviceError
from engine.images import ImageLoadError
from engine.models import UnknownModel
from engine.store import StoreError
from engine.train.dataset import DEFAULT_VAL_FRACTION, DatasetError
from engine.train.detection_data import check_images, load_coco
from engine.train.detection_fit import DetectorEpoch, TrainingDiverged
from engine.train.detector_pipeline import (
    DEFAULT_ITERATIONS,
    DetectorConfig,
    default_base,
    train_detector,
)
from engine.types import CancelToken
from engine.weights import WeightsError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train-detector", help="fine-tune a detector on reviewed images or a COCO file",
        description="Fine-tune a detector (boxes, and masks and keypoints where the data has them) on the "
        "reviewed images of FOLDER (accepted and relabelled detections in the review store; the default) "
        "or on a COCO instances file. New classes widen the model; the held-out images are scored with "
        "COCOeval before and after.",
    )  # fmt: skip
    add = parser.add_argument
    add("folder", metavar="FOLDER", help="the images (searched recursively); with --annotations, where "
        "file names not found next to the JSON are looked for")  # fmt: skip
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--annotations", type=Path, default=None, metavar="FILE.json", help="a COCO instances file")
    source.add_argument("--from-review", action="store_true", help="the review store's reviewed images (the default)")
    add("--base", default=None, help="model to start from: a registry name or a fine-tuned file (default: the "
        "model FOLDER was reviewed with, else demo-shapes)")  # fmt: skip
    add("--review-model", default=None, help="--from-review: read the results of this model (default: the one "
        "with the most reviewed images in FOLDER)")  # fmt: skip
    add("--epochs", type=int, default=None, help=f"default: enough for about {DEFAULT_ITERATIONS} optimiser steps")
    add("--batch-size", type=int, default=4, help="images per step (default %(default)s)")
    add("--lr", type=float, default=0.01, help="SGD learning rate (default %(default)s)")
    add("--warm-start-epochs", type=int, default=0, help="keep the backbone frozen this many epochs (default 0)")
    add("--val-fraction", type=float, default=DEFAULT_VAL_FRACTION, help="held-out share of the images (default %(default)s)")
    add("--no-flip", action="store_true", help="no random horizontal flips")
    add("--seed", type=int, default=0, help="default %(default)s")
    add("--device", default="auto", help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    add("--name", default="", help="model name (default: base and new classes)")
    add("--out", default=None, help="model file (or folder) to write (default: a new file in the user models folder)")
    parser.set_defaults(run=run)
    return parser


def read_data(args, bars: Bars):
    """The training data the arguments ask for, images checked (bad ones left out and named)."""
    if args.annotations is not None:
        data = load_coco(args.annotations, args.folder)
    else:
        from engine.train.review_source import read_reviewed

        if not Path(args.folder).is_dir():
            raise DatasetError(f"{args.folder}: not a folder")
        data = read_reviewed(args.folder, model=args.review_model)
    try:
        return check_images(data, progress=bars)
    finally:
        bars.close()


def epoch_line(m: DetectorEpoch) -> str:
    ap = "" if m.val_ap50 is None else f"  held-out box AP50 {m.val_ap50:.3f}"
    flags = (" (frozen backbone)" if m.backbone_frozen else "") + (" *best" if m.best else "")
    return f"epoch {m.epoch:>3}/{m.epochs}  loss {m.train_loss:.4f}{ap}  lr {m.lr:.2e}  {m.seconds:.1f}s{flags}"


def make_config(args) -> DetectorConfig:
    return DetectorConfig(base=args.base, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          warm_start_epochs=args.warm_start_epochs, val_fraction=args.val_fraction,
                          flip=not args.no_flip, seed=args.seed, device=args.device, name=args.name)


def _train(data, config: DetectorConfig, bars: Bars):
    stop = CancelToken()
    try:
        with _CtrlC(stop, bars):
            return train_detector(data, config, progress=bars, stop=stop, on_epoch=lambda m: bars.write(epoch_line(m)))
    finally:
        bars.close()


def _report(result) -> None:
    plan = result.plan
    if result.before is not None:
        print(f"held-out images ({result.val_images}), before: {result.before.line()}")
        print(f"held-out images ({result.val_images}), after:  {result.after.line()}")
    else:
        print("no held-out images (--val-fraction 0): no evaluation")
    print(f"best epoch {result.fit.best_epoch} of {len(result.fit.history)} ({result.fit.stop_reason}), "
          f"{result.fit.iterations} iterations, {result.seconds:.0f}s")
    if plan.new_classes:
        print(f"new classes: {', '.join(plan.new_classes)}")


def run(args: argparse.Namespace) -> int:
    bars = Bars()
    try:
        data = read_data(args, bars)
        print("\n".join(data.lines()))
        config = make_config(args)
        print(f"fine-tuning {config.base or default_base(data)} on {len(data.samples)} images "
              f"(held out: {args.val_fraction:.0%}), lr {config.lr:g}, batch {config.batch_size}")
        result = _train(data, config, bars)
    except (DatasetError, StoreError, UnknownModel, WeightsError, DeviceError, TrainingDiverged, ValueError) as exc:
        console.error(str(exc).strip("'\""))
        return EXIT_USAGE
    except ImageLoadError as exc:  # a file changed or vanished after the check
        console.error(f"{exc} (it could be read when the images were checked)")
        return EXIT_FAILURES
    _report(result)
    path = write_model(result, args.out)
    if path is None:
        return EXIT_USAGE
    print(f"model written to {path}")
    print(f"use it: sightline detect IMAGES --model {path}")
    sys.stdout.flush()
    return EXIT_OK
