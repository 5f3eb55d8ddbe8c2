"""Client memory of `sightline detect --cluster` as the number of images grows.

Starts a local Ray instance, writes N synthetic scenes, runs the real command in this
process (COCO, CSV and overlays written) and samples this process's resident memory as the
results arrive. The client keeps nothing per result, so memory after the last image should
be where it was after the first tenth (growth of a few MB, not proportional to N), while the
results written (shards, overlays) grow with N.

    python tests/benchmarks/bench_cluster_memory.py [--images 600] [--cpus 2] [--workers 2] [--scale 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # workers

import cv2  # noqa: E402
import torch  # noqa: E402

from engine.cli import main  # noqa: E402
from engine.demo.scenes import make_scene  # noqa: E402
from engine.result_shards import ResultShards  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kib / 1024


def write_scenes(folder: Path, count: int, scale: float) -> None:
    for i in range(count):
        image = make_scene(3_000_000 + i).image[:, :, ::-1]
        if scale != 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"scene-{i:06d}.png"), image)


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.5, help="scene size factor (smaller: faster)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import ray

    with tempfile.TemporaryDirectory(prefix="sightline-bench-cluster-") as tmp:
        work = Path(tmp)
        (work / "images").mkdir()
        write_scenes(work / "images", args.images, args.scale)
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        done, samples = [0], []
        real_add = ResultShards.add

        def counting_add(self, path, detections):
            real_add(self, path, detections)
            done[0] += 1

        ResultShards.add = counting_add
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                samples.append((done[0], rss_mb()))

        began, before = time.perf_counter(), rss_mb()
        threading.Thread(target=sample, daemon=True).start()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["detect", str(work / "images"), "--model", "demo-shapes", "--cluster", "auto",
                         "--workers", str(args.workers), "--out", str(work / "r.json"), "--csv", str(work / "r.csv"),
                         "--overlays", str(work / "overlays")])
        stop.set()
        seconds, after = time.perf_counter() - began, rss_mb()
        ray.shutdown()
        print(err.getvalue().splitlines()[-1] if code else "", end="")
        report(args, samples, before, after, seconds, work)


def report(args, samples, before: float, after: float, seconds: float, work: Path) -> None:
    print(f"{args.images} images ({args.scale:g}x scenes), {args.workers} CPU workers, {seconds:.0f} s, "
          f"{args.images / seconds:.1f} images/s")
    print(f"client RSS before the command (Ray connected, torch loaded): {before:.1f} MB")
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        wanted = max(1, int(args.images * fraction))
        reached = [rss for count, rss in samples if count >= wanted]
        if reached:
            print(f"  after {wanted:>6} images: {reached[0]:.1f} MB")
    tenth = next((rss for count, rss in samples if count >= max(1, args.images // 10)), before)
    last = next((rss for count, rss in samples if count >= args.images), after)
    print(f"growth from the first tenth to the last image: {last - tenth:+.1f} MB; peak {max(r for _, r in samples):.1f} MB;"
          f" after writing COCO/CSV: {after:.1f} MB")
    print(f"results written: shards {folder_mb(work / 'r.json.parts'):.1f} MB, overlays "
          f"{folder_mb(work / 'overlays'):.1f} MB, COCO {(work / 'r.json').stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main_benchmark()
