"""Wall time of the two linear probes for the same number of epochs: `probe-features` (the
frozen encoder runs once, the last layer trains on stored features) against `probe-frozen`
(the frozen encoder runs on every image in every epoch, with augmentation).

    python tests/benchmarks/bench_probe.py [--per-class 40] [--epochs 5] [--image-size 64]

Uses the ImageNet weights in the torchvision cache when they are there; otherwise random
weights stand in (placed in a temporary TORCH_HOME: the timing is the same, the accuracy is
meaningless). Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from torchvision.models import get_model  # noqa: E402

from engine.train import TrainConfig, scan_dataset, train_classifier  # noqa: E402
from engine.train.strategies import imagenet_weights_path  # noqa: E402
from engine.train.synthetic import write_shapes  # noqa: E402


def ensure_weights(backbone: str) -> str:
    if imagenet_weights_path(backbone).is_file():
        return "ImageNet weights from the cache"
    os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="bench-torch-home-")
    atexit.register(shutil.rmtree, os.environ["TORCH_HOME"], True)
    path = imagenet_weights_path(backbone)
    path.parent.mkdir(parents=True)
    torch.save(get_model(backbone, weights=None).state_dict(), path)
    return "random stand-in weights (no ImageNet file in the cache)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = ensure_weights(args.backbone)
    folder = tempfile.mkdtemp(prefix="bench-probe-")
    atexit.register(shutil.rmtree, folder, True)
    write_shapes(folder, per_class=args.per_class, size=args.image_size)
    report = scan_dataset(folder)
    print(f"{len(report.train)} training / {len(report.val)} validation images, {args.image_size}px, "
          f"{args.backbone}, {args.epochs} epochs, {source}")
    for strategy in ("probe-features", "probe-frozen"):
        config = TrainConfig(strategy=strategy, backbone=args.backbone, epochs=args.epochs, patience=None,
                             image_size=args.image_size, batch_size=args.batch_size, device=args.device)
        began = time.perf_counter()
        result = train_classifier(report, config)
        seconds = time.perf_counter() - began
        print(f"{strategy:<15} {seconds:7.2f} s   val accuracy {result.results.accuracy:.1%}")


if __name__ == "__main__":
    main()
