"""Inference memory per input pixel, the figure behind `engine.limits.MAX_INFERENCE_PIXELS`.

    .venv/bin/python tests/benchmarks/bench_inference_memory.py [--sides 1000 2000 3000]
        [--model demo-shapes] [--device cpu] [--threads 1]

For each side S, a fresh process loads the model, runs one S x S noise image through
`Detector.predict` at its own size (`size=S`: the demo model would shrink it to 480x480) and prints the growth of peak
resident memory (CPU) or peak CUDA memory over the loaded model, in MB and bytes per pixel.
Noise gives the model many proposals, so the figure is on the high side. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, resource, sys, time
import numpy as np, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
from engine.detect import Detector
from engine.devices import peak_memory_bytes
side = {side}
detector = Detector({model!r}, device={device!r}, size=side)  # at its own size: S x S
cuda = detector.device.type == "cuda"
if cuda:
    torch.cuda.reset_peak_memory_stats()
before = peak_memory_bytes(detector.device) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
began = time.perf_counter()
result = detector.predict([image])[0]
seconds = time.perf_counter() - began
after = peak_memory_bytes(detector.device) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"grown": after - before, "seconds": seconds, "failure": result.failure}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[1000, 2000, 3000])
    parser.add_argument("--model", default="demo-shapes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"{'image':>11}  {'MP':>5}  {'grown MB':>9}  {'bytes/px':>8}  {'seconds':>7}")
    for side in args.sides:
        code = CHILD.format(root=str(ROOT), threads=args.threads, model=args.model, device=args.device, side=side)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{side}x{side}: failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        pixels = side * side
        print(f"{side:>5}x{side:<5}  {pixels / 1e6:5.1f}  {row['grown'] / 2**20:9.0f}  {row['grown'] / pixels:8.0f}  "
              f"{row['seconds']:7.1f}{'  ' + row['failure'] if row['failure'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
