"""`sightline bench`: time per image of the stock torchvision call against Detector.predict."""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from engine import console, devices, models
from engine.console import EXIT_OK, EXIT_USAGE
from engine.demo.scenes import make_scene
from engine.devices import DeviceError
from engine.stock import stock_call, stock_models
from engine.weights import WeightsError

BENCH_SEED_BASE = 500_000


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("bench", help="measure inference speed and memory",
                                   description="Time the stock torchvision call (model(images), its own transform "
                                   "and mask pasting) and Detector.predict on the same synthetic 320x240..640x480 "
                                   "scenes, interleaved, and report their ratio and peak memory.")
    parser.add_argument("--model", default=models.DEMO_MODEL, help="registry name or weights file (default demo-shapes)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--size", type=int, default=None, help="inference shorter side (default: the model's own)")
    parser.add_argument("--images", type=int, default=10, help="images to time (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="times each image is timed each way (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own)")
    parser.add_argument("--random-weights", action="store_true",
                        help="time the architecture with random weights when its weights are not on this machine")
    parser.add_argument("--segmenter", default=None, metavar="FILE",
                        help="also time this segmenter (from train-segmenter) on the same scenes and at 640x480")
    parser.set_defaults(run=run)
    return parser


def _detector(args):
    from engine.detect import Detector

    random_weights = args.random_weights and args.model in models.REGISTRY
    return Detector(args.model, device=args.device, size=args.size, random_weights=random_weights)


def _time(fn, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    began = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - began


def paired_times(detector, images, repeats: int) -> tuple[list[float], list[float]]:
    """(stock, predict) seconds per call: each image timed both ways back to back, the order
    alternating, so a machine whose load changes slows both sides alike."""
    stock = stock_models(detector)
    calls = {"stock": lambda im: stock_call(stock, [im], detector.device), "predict": lambda im: detector.predict([im])}
    for fn in calls.values():
        fn(images[0])  # warm-up: allocations, kernels, caches
    times: dict[str, list[float]] = {"stock": [], "predict": []}
    for repeat in range(max(1, repeats)):
        for index, image in enumerate(images):
            order = ("stock", "predict") if (repeat + index) % 2 == 0 else ("predict", "stock")
            for name in order:
                times[name].append(_time(lambda n=name, i=image: calls[n](i), detector.device))
    return times["stock"], times["predict"]


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        detector = _detector(args)
    except (models.UnknownModel, WeightsError, DeviceError) as exc:
        console.error(f"{exc}" + ("" if args.random_weights else " (or add --random-weights to time the architecture)"))
        return EXIT_USAGE
    images = [make_scene(BENCH_SEED_BASE + i).image for i in range(max(1, args.images))]
    stock, full = paired_times(detector, images, args.repeats)
    stock_ms, full_ms = statistics.median(stock) * 1000, statistics.median(full) * 1000
    ratio = statistics.median(f / s for f, s in zip(full, stock))
    out = sys.stdout
    out.write(f"model        {detector.name}{' (random weights)' if args.random_weights else ''}\n")
    out.write(f"device       {detector.device_info.description}\n")
    out.write(f"images       {len(images)} synthetic scenes, 320x240 to 640x480, inference size "
              f"{args.size or 'model default'}, each timed {max(1, args.repeats)}x each way, interleaved\n")
    out.write(f"stock call   {stock_ms:8.1f} ms/image (median; torchvision model(images), full-size masks)\n")
    out.write(f"predict      {full_ms:8.1f} ms/image (median)\n")
    out.write(f"overhead     {ratio:8.2f}x  (predict / stock, median of back-to-back pairs)\n")
    out.write(f"peak memory  {devices.peak_memory_bytes(detector.device) / 2**20:8.0f} MiB\n")
    return _bench_segmenter(args, images, out)


def _bench_segmenter(args, images, out) -> int:
    """The segmenter's lines (when --segmenter is given) after the detector's."""
    if not args.segmenter:
        return EXIT_OK
    from engine.segment.timing import segmenter_lines

    try:
        out.write("\n".join(segmenter_lines(args.segmenter, images, args.device)) + "\n")
    except (WeightsError, DeviceError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    return EXIT_OK
