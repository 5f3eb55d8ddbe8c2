"""Benchmark: training from scratch converges on a small, easy data set with default settings.

    python tests/benchmarks/bench_scratch_small.py [--per-class 40 --test 100 --workdir DIR]

Writes `--per-class` 64 px stripe textures of each of three orientations (horizontal, vertical,
diagonal; 120 images by default, seed 0), runs `sightline train DIR --strategy scratch --threads 1`
(one torch thread: two threads on two shared, busy cores run several times slower) with no
other option (timed, wall clock; it splits 20% of them off for its own validation), then
scores the written model on `--test` other textures per class written with seed 1 into a
separate folder: held out, never seen in training or validation. Target: accuracy >= 95%.
Prints the figures; exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.classify import Classifier  # noqa: E402 - after the path
from engine.images import load_image  # noqa: E402 - after the path
from engine.train.synthetic import write_stripes  # noqa: E402 - after the path
from tests.benchmarks.bench_finetune_detector import _load  # noqa: E402 - the load average, as it reports it

TRAIN_SEED, TEST_SEED = 0, 1
TARGET = 0.95


def _train(folder: Path, out: Path, extra: list[str]) -> bool:
    command = [sys.executable, "-m", "engine", "train", str(folder), "--strategy", "scratch", "--out", str(out),
               "--threads", "1", *extra]
    print("$", " ".join(command), flush=True)
    began = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, check=False)
    minutes = (time.perf_counter() - began) / 60
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"training wall time: {minutes:.1f} min, CPU time {(cpu.ru_utime + cpu.ru_stime) / 60:.1f} min "
          f"(the load average was {_load()})")
    return finished.returncode == 0


def held_out_accuracy(model: Path, folder: Path) -> tuple[float, dict[str, float]]:
    classifier = Classifier(model, device="cpu")
    per_class = {}
    for name in classifier.class_names:
        paths = sorted((folder / name).glob("*.png"))
        said = [p[0][0] for p in classifier.predict([load_image(str(path)) for path in paths], top_k=1)]
        per_class[name] = float(np.mean([label == name for label in said]))
    return float(np.mean(list(per_class.values()))), per_class


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--test", type=int, default=100, help="held-out images per class")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `sightline train` options")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scratch-"))
    write_stripes(work / "train", args.per_class, TRAIN_SEED)
    write_stripes(work / "held-out", args.test, TEST_SEED)
    out = work / "stripes-scratch.pt"
    if not _train(work / "train", out, args.extra):
        return 1
    torch.set_num_threads(2)
    accuracy, per_class = held_out_accuracy(out, work / "held-out")
    classes = ", ".join(f"{name} {value:.1%}" for name, value in per_class.items())
    print(f"held-out accuracy ({args.test} per class, seed {TEST_SEED}): {accuracy:.1%} ({classes})")
    passed = accuracy >= TARGET
    print("target met" if passed else f"below the {TARGET:.0%} target")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
