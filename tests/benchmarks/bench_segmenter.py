"""The segmenter benchmark of issue 15, in two steps that print figures.

    python tests/benchmarks/bench_segmenter.py train OUT.pt [--scenes 80] [--max-minutes 28] [--threads 1]
    python tests/benchmarks/bench_segmenter.py evaluate OUT.pt [--scenes 150] [--threads 2]
    python tests/benchmarks/bench_segmenter.py calibrate OUT.pt [--scenes 80]

`train` writes demo-generator scenes with seeds 3,000,000.. (default generator settings) to a
temporary folder as PNG + COCO and trains with the `sightline train-segmenter` defaults
(engine.segment.train.SegmenterSettings()), except for the time limit. `evaluate` scores the
model on scenes 0..N-1, the demo evaluation seeds, disjoint from the training seeds: per-class
IoU, mean IoU over the three shapes, foreground IoU (any shape against background).
`calibrate` chooses the background bias of a model trained before `train-segmenter` did so
itself, on the same validation scenes its training held out (the same seeded split), and
writes it into the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.demo.scenes import make_scene  # noqa: E402
from engine.demo.scenes_coco import write_scene_folder  # noqa: E402
from engine.segment import metrics  # noqa: E402
from engine.segment.data import load_coco, paint, split  # noqa: E402
from engine.segment.model_file import load_segmenter_file, save_segmenter  # noqa: E402
from engine.segment.train import SegmenterSettings, SegmenterTraining, calibrated, train_segmenter  # noqa: E402

TRAIN_SEED_BASE = 3_000_000
EVAL_SEED_BASE = 0


def train(args) -> None:
    with tempfile.TemporaryDirectory() as folder:
        annotations = write_scene_folder(folder, TRAIN_SEED_BASE, args.scenes)
        data = load_coco(annotations)
        settings = SegmenterSettings(max_minutes=args.max_minutes)
        began, cpu = time.monotonic(), time.process_time()
        result = train_segmenter(data, settings, on_epoch=lambda e: print(
            f"epoch {e.epoch}: loss {e.train_loss:.3f} val mIoU {e.val_mean_iou:.3f} fg {e.val_foreground_iou:.3f} "
            f"lr {e.lr:.2e} {e.seconds:.0f}s{' *' if e.best else ''}", flush=True))
    save_segmenter(result.file, args.model)
    print(f"trained {time.monotonic() - began:.0f} s wall, {time.process_time() - cpu:.0f} s CPU time, "
          f"{torch.get_num_threads()} threads, {len(result.history)} epochs, best {result.best_epoch} "
          f"({result.stop_reason}); wrote {args.model}")


def validation_samples(scenes: int, folder: str):
    data = load_coco(write_scene_folder(folder, TRAIN_SEED_BASE, scenes))
    defaults = SegmenterSettings()
    return split(data.samples, defaults.val_fraction, defaults.seed)[1]


def calibrate(args) -> None:
    file = load_segmenter_file(args.model)
    with tempfile.TemporaryDirectory() as folder:
        val = validation_samples(args.scenes, folder)
        training = calibrated(SegmenterTraining(file), val, "cpu", None)
    save_segmenter(training.file, args.model)
    before, after = (training.file.metrics["at_own_size"][k] for k in ("without_bias", "with_bias"))
    print(f"background bias {training.file.background_bias:+.2f} chosen on {len(val)} validation scenes (at "
          f"their own size): mean IoU {before['mean_iou']:.3f} -> {after['mean_iou']:.3f}, foreground IoU "
          f"{before['foreground_iou']:.3f} -> {after['foreground_iou']:.3f}")


def evaluate(args) -> None:
    from engine.segment.predict import Segmenter

    segmenter = Segmenter(args.model)
    confusion = metrics.Confusion(len(segmenter.class_names))
    seconds = []
    for seed in range(EVAL_SEED_BASE, EVAL_SEED_BASE + args.scenes):
        scene = make_scene(seed)
        truth = paint(scene.image.shape[:2], [(s.mask, s.label + 1) for s in scene.shapes])
        began = time.perf_counter()
        predicted = segmenter.predict(scene.image)
        seconds.append(time.perf_counter() - began)
        confusion.add(truth, predicted)
    found = metrics.summary(confusion, segmenter.class_names)
    seconds.sort()
    print(f"{args.scenes} unseen scenes (seeds {EVAL_SEED_BASE}..{EVAL_SEED_BASE + args.scenes - 1}), "
          f"{torch.get_num_threads()} threads")
    print("per-class IoU  " + "  ".join(f"{k} {v:.3f}" for k, v in found["iou"].items()))
    print(f"mean IoU (3 shapes) {found['mean_iou']:.3f}   foreground IoU {found['foreground_iou']:.3f}")
    print(f"time per image: median {seconds[len(seconds) // 2] * 1000:.1f} ms (320x240 to 640x480 scenes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("train", "evaluate", "calibrate"))
    parser.add_argument("model", type=Path)
    parser.add_argument("--scenes", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=28.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step in ("train", "calibrate"):
        args.scenes = args.scenes or 80
        (train if args.step == "train" else calibrate)(args)
    else:
        args.scenes = args.scenes or 150
        evaluate(args)


if __name__ == "__main__":
    main()
