"""Benchmark: fine-tune the bundled demo detector to a fourth shape class it has never seen.

    python tests/benchmarks/bench_finetune_detector.py [--train 80 --test 40 --workdir DIR]

Writes `--train` scenes of the demo generator with crosses added (seeds 2,000,000 up) and a
COCO file, runs `sightline train-detector DIR --annotations DIR/annotations.json` with default
settings (timed, wall clock), then scores the written model with COCOeval on `--test` other
scenes (seeds 4,000,000 up: never seen in training, nor by the demo model's training, which
used 3-class scenes from seed 1,000,000). Target: box AP50 >= 0.8 on the new class and >= 0.8
over all classes. Prints the figures; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import models  # noqa: E402 - after the path
from engine.demo.scene_folder import write_scene_folder  # noqa: E402 - after the path
from engine.train.detection_data import load_coco  # noqa: E402 - after the path
from engine.train.detection_eval import evaluate_detector  # noqa: E402 - after the path

TRAIN_SEEDS, TEST_SEEDS = 2_000_000, 4_000_000
TARGET = 0.8


def _load() -> str:
    try:
        return open("/proc/loadavg").read().split()[0] + " at the end (2 cores)"
    except OSError:
        return "unknown"


def _train(work: Path, train_json: Path, out: Path, args) -> bool:
    command = [sys.executable, "-m", "engine", "train-detector", str(work / "train"), "--annotations",
               str(train_json), "--out", str(out), *args.extra]
    print("$", " ".join(command), flush=True)
    began = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, check=False)
    minutes = (time.perf_counter() - began) / 60
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_minutes = (cpu.ru_utime + cpu.ru_stime) / 60
    print(f"training wall time: {minutes:.1f} min, CPU time {cpu_minutes:.1f} min "
          f"({args.train} scenes, default settings; the load average was {_load()})")
    if finished.returncode != 0:
        print(f"train-detector failed with status {finished.returncode}")
    return finished.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=80)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None,
                        help="score this fine-tuned file on the unseen scenes instead of training one")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more train-detector options")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    test_json = write_scene_folder(work / "test", range(TEST_SEEDS, TEST_SEEDS + args.test))
    out = args.model or work / "demo-shapes+cross.pt"
    if args.model is None:
        train_json = write_scene_folder(work / "train", range(TRAIN_SEEDS, TRAIN_SEEDS + args.train))
        if not _train(work, train_json, out, args):
            return 1
    spec = models.get_spec(str(out))
    model = models.load_model(spec.name)
    torch.set_num_threads(2)
    scores = evaluate_detector(model, load_coco(test_json).samples, spec.categories, torch.device("cpu"), True, False)
    new = scores.per_class_ap50.get("cross", 0.0)
    print(f"unseen scenes ({args.test}): {scores.line()}")
    passed = new >= TARGET and scores.box_ap50 >= TARGET
    print(f"new class 'cross' box AP50 {new:.3f}, all classes {scores.box_ap50:.3f}: "
          + ("targets met" if passed else f"below the {TARGET} target"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
