"""`sightline train FOLDER`: fine-tune a ResNet classifier on a folder of labelled images
(one sub-folder per class, or train/ and val/ folders). With no FOLDER the `sightline` launcher
opens the wizard instead (the engine never opens a window).

The data report, the chosen strategy and the final metrics go to stdout; the progress bar and
one line per epoch to stderr. The first Ctrl-C stops training and keeps the best epoch so far
(the model is still written); a second one aborts without writing anything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Optional

from engine import console
from engine.commands.argtypes import int_between, positive_int
from engine.console import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from engine.devices import DEVICE_CHOICES, DeviceError
from engine.images import ImageLoadError, scan_paths
from engine.outputs import InputSet, WriteOutcome, check_output_file, check_output_folder, recovery_folders, write_or_recover
from engine.train import dataset as D
from engine.train import checkpoint_fields as F
from engine.train import strategies as S
from engine.train.checkpoint import default_model_path
from engine.train.loop import EpochMetrics
from engine.train.pipeline import TrainConfig, train_classifier
from engine.train.scratch import SCRATCH_STEPS
from engine.train.transforms import AugmentConfig
from engine.types import CancelToken, Progress
from engine.weights import WeightsError, WeightsMissing, user_models_dir


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="fine-tune a ResNet classifier on a folder of labelled images",
        description="Train a classifier on FOLDER/<class>/*.jpg (split here) or FOLDER/train/<class>/ + "
        "FOLDER/val/<class>/. Without FOLDER, opens the training wizard.",
    )  # fmt: skip
    add = parser.add_argument
    add("folder", nargs="?", default=None, metavar="FOLDER", help="folder of class sub-folders")
    add("--strategy", choices=S.STRATEGIES, default=None, help="default: recommended from the data size")
    add("--backbone", choices=S.BACKBONES, default=S.DEFAULT_BACKBONE, help="default %(default)s")
    add("--epochs", type=int, default=None, help="default depends on the strategy: " +
        ", ".join(f"{k} {v}" for k, v in S.DEFAULT_EPOCHS.items() if k != "scratch") +
        f", scratch enough for about {SCRATCH_STEPS} optimiser steps (at least {S.DEFAULT_EPOCHS['scratch']})")  # fmt: skip
    add("--batch-size", type=positive_int, default=32, help="default %(default)s")
    add("--lr", type=float, default=None, help="learning rate (default depends on strategy and optimizer)")
    add("--optimizer", choices=S.OPTIMIZERS, default="adamw", help="default %(default)s")
    add("--schedule", choices=S.SCHEDULES, default="cosine", help="default %(default)s")
    add("--weight-decay", type=float, default=1e-4, help="default %(default)s")
    add("--patience", type=int, default=5, help="early stopping: epochs without a lower validation loss (0: off; "
        "scratch without --epochs: at least a quarter of the run)")
    add("--val-fraction", type=float, default=D.DEFAULT_VAL_FRACTION,
        help="validation share when the folder is split here (default %(default)s)")
    add("--seed", type=int, default=0, help="default %(default)s")
    add("--image-size", type=int_between(F.MIN_INPUT_SIZE, F.MAX_INPUT_SIZE), default=None,
        help="square input side in pixels (default 224; scratch: the images' own size when smaller)")
    add("--warm-start-epochs", type=int, default=None, help="finetune: keep the encoder frozen this many epochs")
    add("--layer-decay", type=float, default=None, help="finetune: each earlier layer's LR times this, e.g. 0.5")
    add("--no-augment", action="store_true", help="train without data augmentation")
    add("--balanced", action="store_true", help="class-balanced sampling")
    add("--device", default="auto", help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    add("--workers", type=int, default=0, help="data loading processes (default 0)")
    add("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's own)")
    add("--download", action="store_true", help="download missing ImageNet weights")
    add("--name", default="", help="model name (default: folder name and backbone)")
    add("--out", default=None, help="model file (or folder) to write (default: a new file in the user models folder)")
    parser.set_defaults(run=run)
    return parser


class Bars:
    """One progress bar per phase (checking images, extracting features, training)."""

    def __init__(self) -> None:
        self.bar, self.label, self.start, self.last = None, None, 0, 0

    def __call__(self, progress: Progress) -> None:
        label = "training" if progress.message.startswith("epoch") else progress.message
        if label != self.label:
            self.close()
            self.start = self.last if progress.done > self.last else 0  # same counter, or a new one
            self.bar, self.label = console.ProgressBar(progress.total - self.start, label), label
        self.last = progress.done
        self.bar.total = max(1, progress.total - self.start)
        self.bar.update(progress.done - self.start, progress.message.partition(": ")[0] if label == "training" else "")

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            sys.stderr.write(text + "\n")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.label = None, None


def epoch_line(m: EpochMetrics) -> str:
    flags = (" (frozen encoder)" if m.encoder_frozen else "") + (" *best" if m.best else "")
    return (f"epoch {m.epoch:>3}/{m.epochs}  train loss {m.train_loss:.4f} acc {m.train_acc:6.1%}  "
            f"val loss {m.val_loss:.4f} acc {m.val_acc:6.1%}  lr {m.lr:.2e}  {m.seconds:.1f}s{flags}")  # fmt: skip


def choose_strategy(args, report: D.DatasetReport) -> tuple[str, int, Optional[float]]:
    """(strategy, warm start epochs, layer decay): the user's, else the recommendation's."""
    warm, decay = args.warm_start_epochs, args.layer_decay
    if args.strategy:
        return args.strategy, warm or 0, decay
    available = S.imagenet_weights_path(args.backbone).is_file() or args.download
    advice = S.recommend(report.min_train_per_class, available)
    print(f"strategy: {advice.strategy} (recommended: {advice.reason})")
    if advice.strategy != "finetune":
        return advice.strategy, 0, None
    return advice.strategy, advice.warm_start_epochs if warm is None else warm, decay or advice.layer_decay


def make_config(args, strategy: str, warm: int, decay: Optional[float], report: D.DatasetReport) -> TrainConfig:
    return TrainConfig(
        strategy=strategy, backbone=args.backbone, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, optimizer=args.optimizer, schedule=args.schedule, weight_decay=args.weight_decay,
        patience=args.patience or None, seed=args.seed, image_size=args.image_size,
        warm_start_epochs=warm, layer_decay=decay,
        augment=AugmentConfig.off() if args.no_augment else AugmentConfig(), balanced=args.balanced,
        device=args.device, workers=args.workers, allow_download=args.download, name=args.name,
    ).resolved(report)  # fmt: skip


class _CtrlC:
    """First Ctrl-C: stop and keep the best epoch; second: KeyboardInterrupt as usual."""

    def __init__(self, stop: CancelToken, bars: Bars):
        self.stop, self.bars, self.previous = stop, bars, None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def _handle(self, signum, frame) -> None:
        if self.stop.cancelled:
            raise KeyboardInterrupt
        self.stop.cancel()
        self.bars.write("stopping after this batch (or once the first epoch is done), keeping the best epoch; "
                        "Ctrl-C again to abort without a model")

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def scan(args, bars: Bars) -> D.DatasetReport:
    try:
        return D.scan_dataset(args.folder, args.val_fraction, args.seed, progress=bars)
    finally:
        bars.close()


def train(args, report: D.DatasetReport, config: TrainConfig, bars: Bars):
    stop = CancelToken()
    on_epoch = lambda m: bars.write(epoch_line(m))  # noqa: E731
    try:
        with _CtrlC(stop, bars):
            return train_classifier(report, config, progress=bars, on_epoch=on_epoch, stop=stop)
    finally:
        bars.close()


def _out_is_folder(out: str) -> bool:
    return Path(out).is_dir() or out.endswith(("/", os.sep))


def out_problems(out: Optional[str], folder: str) -> list[str]:
    """Why --out cannot be written (or would write over a training image), found before training."""
    target = Path(out) if out else default_model_path("check")
    if out and _out_is_folder(out):
        return check_output_folder(target, InputSet([]), "--out")
    return check_output_file(target, InputSet(scan_paths([folder]).images), "--out")


def save_model(out: Optional[str], result) -> WriteOutcome:
    """The model written to --out (a file, or a new file in a folder); when that fails, to a
    new file in the user models folder (then the temporary folder), saying where."""
    target = default_model_path(result.checkpoint.name, Path(out) if out else None) if (
        not out or _out_is_folder(out)) else Path(out)
    spare = [user_models_dir(), *recovery_folders()[1:]]
    outcome = write_or_recover(target, result.save, spare)
    if outcome.error:
        console.report_write(outcome)
    return outcome


def write_model(result, out: Optional[str]) -> Optional[Path]:
    """`save_model` for other training commands: the path written (where it went, if --out
    could not take it), or None after saying why nothing could be written."""
    return save_model(out, result).path


def run(args: argparse.Namespace) -> int:
    if args.folder is None:
        console.error("give a FOLDER to train from the command line (`sightline train` with no folder opens the "
                      "training wizard)")
        return EXIT_USAGE
    problems = out_problems(args.out, args.folder)
    if problems:
        console.error("; ".join(problems))
        return EXIT_USAGE
    bars = Bars()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        report = scan(args, bars)
        print("\n".join(report.lines()))
        config = make_config(args, *choose_strategy(args, report), report)
        print(f"training {config.backbone} ({config.strategy}) for up to {config.epochs} epochs, "
              f"lr {config.lr:g}, batch {config.batch_size}, {config.image_size}px")  # fmt: skip
        result = train(args, report, config, bars)
    except D.DatasetError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    except WeightsMissing as exc:
        console.error(f"{exc}; or train without ImageNet weights: --strategy scratch")
        return EXIT_USAGE
    except (ValueError, DeviceError, WeightsError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    except ImageLoadError as exc:  # a file changed or vanished after the check
        console.error(f"{exc} (it could be read when the folder was checked)")
        return EXIT_FAILURES
    saved = save_model(args.out, result)
    if saved.path is None:
        return EXIT_FAILURES
    print(f"best epoch {result.fit.best_epoch} of {len(result.fit.history)} ({result.fit.stop_reason}), "
          f"{result.seconds:.0f}s")  # fmt: skip
    print("\n".join(result.results.lines()))
    print(f"model written to {saved.path}")
    return EXIT_FAILURES if saved.error else EXIT_OK
