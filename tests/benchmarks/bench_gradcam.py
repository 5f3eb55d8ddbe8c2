"""The pointing game for Grad-CAM: train a classifier from scratch on images where only the
object tells the class (one small shape on a grey noisy background, the class its colour),
then ask, on unseen images, whether each heatmap's maximum lies on the shape (within
`--tolerance` pixels). Beside it, the random baseline: the chance that a uniformly random
point does (the share of the image within the tolerance of the shape, averaged).

    python tests/benchmarks/bench_gradcam.py [--per-class 60] [--eval-per-class 15] [--epochs 15]
                                             [--image-size 224] [--batch-size 32] [--threads 2] [--keep DIR]
                                             [--model FILE]

Training images come from seed `--seed`, evaluation images from seed `--seed + 1` (separate
random streams, and checked: no evaluation image equals a training image byte for byte).
Training runs the real command, `sightline train FOLDER --strategy scratch`. Image sizes vary
from 96 to 256 pixels a side, so maps must come back in each image's own coordinates.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.cli import main as sightline  # noqa: E402
from engine.explain import open_model  # noqa: E402
from engine.images import load_image  # noqa: E402
from engine.train.synthetic import write_colour_shapes  # noqa: E402


def near(mask: np.ndarray, tolerance: float) -> np.ndarray:
    """The pixels within `tolerance` of the mask (Euclidean)."""
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return distance <= tolerance


def train(folder: Path, model: Path, args) -> float:
    began = time.monotonic()
    argv = ["train", str(folder), "--strategy", "scratch", "--epochs", str(args.epochs), "--image-size",
            str(args.image_size), "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--device", "cpu", "--out", str(model)]  # fmt: skip
    print("$ sightline " + " ".join(argv), flush=True)
    code = sightline(argv)  # its report and epochs go to stderr
    if code != 0:
        sys.exit(f"training failed ({code})")
    return time.monotonic() - began


def digests(items) -> set[str]:
    return {hashlib.sha256(Path(p).read_bytes()).hexdigest() for p, _, _ in items}


def evaluate(model: Path, items, args) -> dict:
    explainer = open_model(str(model), device="cpu")
    results = {"correct": 0, "random": [], "centre": 0, "seconds": 0.0}
    for method, layer in args.maps:
        results[(method, layer)] = 0
    for path, truth, mask in items:
        image = load_image(path)
        zone = near(mask, args.tolerance)
        results["random"].append(float(zone.mean()))
        results["centre"] += bool(zone[image.shape[0] // 2, image.shape[1] // 2])
        for method, layer in args.maps:
            began = time.monotonic()
            heatmap = explainer.heatmaps(image, method, layer=layer)[0]
            results["seconds"] += time.monotonic() - began
            assert heatmap.values.shape == image.shape[:2] and heatmap.values.dtype == np.float32
            x, y = heatmap.peak
            results[(method, layer)] += bool(zone[y, x])
            if (method, layer) == args.maps[0]:
                results["correct"] += heatmap.target == truth
    return results


def report(results: dict, count: int, seconds_train: float, args) -> None:
    trained = f"training took {seconds_train:.0f} s" if seconds_train else f"model {args.model}"
    print(f"\n{count} unseen images, tolerance {args.tolerance:g} px; {trained}")
    print(f"classifier accuracy on them: {results['correct']}/{count} ({results['correct'] / count:.0%})\n")
    print("| map | maximum on the shape |")
    print("| --- | --- |")
    for method, layer in args.maps:
        hits = results[(method, layer)]
        print(f"| {method} at {layer} | {hits}/{count} ({hits / count:.0%}) |")
    print(f"| random point (expected) | {np.mean(results['random']):.0%} |")
    print(f"| image centre | {results['centre']}/{count} ({results['centre'] / count:.0%}) |")
    print(f"\n{results['seconds'] / (count * len(args.maps)):.2f} s per map on the CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=60, help="training images per colour (default 60)")
    parser.add_argument("--eval-per-class", type=int, default=15, help="unseen images per colour (default 15)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tolerance", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep the data and the model in this folder")
    parser.add_argument("--model", type=Path, default=None, help="evaluate this classifier instead of training one "
                        "(made by an earlier run with the same --seed and --keep)")
    args = parser.parse_args()
    args.maps = [("gradcam", "layer4"), ("gradcam", "layer3"), ("gradcam", "layer2"), ("gradcam++", "layer4"),
                 ("gradcam++", "layer3")]  # fmt: skip
    torch.set_num_threads(args.threads)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-gradcam-"))
    training = write_colour_shapes(root / "train", args.per_class, args.seed)
    unseen = write_colour_shapes(root / "eval", args.eval_per_class, args.seed + 1)
    if digests(training) & digests(unseen):
        sys.exit("an evaluation image equals a training image; choose another seed")
    model = args.model or root / "model.pt"
    seconds = 0.0 if args.model else train(root / "train", model, args)
    report(evaluate(model, unseen, args), len(unseen), seconds, args)


if __name__ == "__main__":
    main()
