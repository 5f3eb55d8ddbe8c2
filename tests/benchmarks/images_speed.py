"""Still images: `sightline detect`'s pipeline against a plain per-image torchvision loop.

    .venv/bin/python tests/benchmarks/images_speed.py [--model demo-shapes] [--images 24]
        [--rounds 3] [--threads N] [--score X] [--size PX] [--random-weights]

Writes demo scenes (320x240 to 640x480 PNG files, seeds 5000 on: neither training scenes nor
`make demo-eval`'s), then times, alternating, round after round, on the same files:
- the plain loop: `load_image`, the stock torchvision call on that one image (`engine.stock`,
  same weights, size and precision), its outputs to the CPU, then the next file;
- `detect_files` on one stream: files decoded ahead on a thread, `Detector.predict`
  (boxes under --score dropped before the mask and keypoint heads, masks pasted into their
  boxes, channels-last on the CPU);
- `detect_files` as `sightline detect` runs it: on the CPU two model calls side by side, each
  on half of torch's threads (`engine.model_streams`).
Prints images per second of each (median over rounds) and the medians of the per-round ratios
against the plain loop. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import torch  # noqa: E402

from engine.demo.scenes import make_scene  # noqa: E402
from engine.image_batches import detect_files  # noqa: E402
from engine.images import load_image  # noqa: E402
from engine.stock import stock_call, stock_models  # noqa: E402
from video_speed import add_model_arguments, detector_from  # noqa: E402

FIRST_SEED = 5000


def write_scenes(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"scene{i:03d}.png"
        cv2.imwrite(str(path), make_scene(FIRST_SEED + i).image[:, :, ::-1])
        paths.append(path)
    return paths


def plain_loop(models, paths: list[Path], device: torch.device) -> int:
    for path in paths:
        outputs = stock_call(models, [load_image(path)], device)
        [{k: v.cpu() for k, v in out[0].items()} for out in outputs]
    return len(paths)


def pipeline(detector, paths: list[Path], streams=None) -> int:
    return sum(1 for result in detect_files(detector, paths, streams=streams) if result.detections is not None)


def compare(detector, paths: list[Path], rounds: int) -> dict[str, float]:
    """Images per second of each way (median over rounds) and each way's median ratio to the plain loop."""
    models = stock_models(detector)
    ways = {
        "plain per-image loop": lambda: plain_loop(models, paths, detector.device),
        "detect_files, one stream": lambda: pipeline(detector, paths, streams=1),
        "detect_files (sightline detect)": lambda: pipeline(detector, paths),
    }
    for way in ways.values():  # warm-up
        way()
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(max(1, rounds)):
        order = list(ways.items()) if r % 2 == 0 else list(reversed(ways.items()))
        for name, way in order:
            began = time.perf_counter()
            assert way() == len(paths)
            seconds[name].append(time.perf_counter() - began)
    plain = seconds["plain per-image loop"]
    figures = {}
    for name, times in seconds.items():
        figures[name] = len(paths) / statistics.median(times)
        figures[f"{name} ratio"] = statistics.median(p / t for p, t in zip(plain, times))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    parser.add_argument("--images", type=int, default=24)
    args = parser.parse_args()
    detector = detector_from(args)
    with tempfile.TemporaryDirectory(prefix="sightline-images-speed-") as folder:
        figures = compare(detector, write_scenes(Path(folder), args.images), args.rounds)
    print(f"model {detector.name} on {detector.device_info.description}, {args.images} scenes, "
          f"{args.rounds} rounds interleaved, score >= {args.score} kept")
    for name in ("plain per-image loop", "detect_files, one stream", "detect_files (sightline detect)"):
        print(f"{name:33s} {figures[name]:7.2f} images/s  {figures[name + ' ratio']:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
