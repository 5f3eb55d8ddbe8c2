"""`sightline bench`: time per image of the bare torchvision call against Detector.predict."""

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
from engine.weights import WeightsError

BENCH_SEED_BASE = 500_000


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("bench", help="measure inference speed and memory",
                                   description="Time the bare torchvision model call and Detector.predict on "
                                   "the same synthetic 320x240..640x480 scenes, and report peak memory.")
    parser.add_argument("--model", default=models.DEMO_MODEL, help="registry name or weights file (default demo-shapes)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--size", type=int, default=None, help="inference shorter side (default: the model's own)")
    parser.add_argument("--images", type=int, default=10, help="images to time (default 10)")
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


def run(args: argparse.Namespace) -> int:
    try:
        detector = _detector(args)
    except (models.UnknownModel, WeightsError, DeviceError) as exc:
        console.error(f"{exc}" + ("" if args.random_weights else " (or add --random-weights to time the architecture)"))
        return EXIT_USAGE
    images = [make_scene(BENCH_SEED_BASE + i).image for i in range(max(1, args.images))]
    detector.predict(images[:1])  # warm-up: allocations, kernels, caches
    bare, full = [], []
    for image in images:
        tensors = detector.to_tensors([image])
        bare.append(_time(lambda: detector.forward(tensors), detector.device))
        full.append(_time(lambda: detector.predict([image]), detector.device))
    bare_ms, full_ms = statistics.median(bare) * 1000, statistics.median(full) * 1000
    out = sys.stdout
    out.write(f"model        {detector.name}{' (random weights)' if args.random_weights else ''}\n")
    out.write(f"device       {detector.device_info.description}\n")
    out.write(f"images       {len(images)} synthetic scenes, 320x240 to 640x480, inference size {args.size or 'model default'}\n")
    out.write(f"bare model   {bare_ms:8.1f} ms/image (median)\n")
    out.write(f"predict      {full_ms:8.1f} ms/image (median)\n")
    out.write(f"overhead     {full_ms / bare_ms:8.2f}x  (predict / bare)\n")
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
