"""A huge photo at the demo model's working size: time and memory of one 8000x6000 scene.

    .venv/bin/python tests/benchmarks/bench_huge_image.py [--width 8000] [--height 6000] [--threads 1]

Draws demo scene 197 (620x465, four shapes), enlarges it to the given size (nearest
neighbour, so the shapes are sharp and their true boxes known), runs `Detector.predict` on
the CPU and prints the seconds, the growth of peak resident memory during the call, the size
the model saw, and each true shape's best box IoU. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8000)
    parser.add_argument("--height", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import cv2
    import numpy as np
    import torch

    from engine.demo.scenes import make_scene
    from engine.detect import Detector

    torch.set_num_threads(args.threads)
    scene = make_scene(197)
    big = cv2.resize(scene.image, (args.width, args.height), interpolation=cv2.INTER_NEAREST)
    factor = np.array([args.width / scene.image.shape[1], args.height / scene.image.shape[0]] * 2)
    detector = Detector("demo-shapes", device="cpu")
    detector.predict([scene.image])  # warm up at the scene's own size
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    began = time.perf_counter()
    det = detector.predict([big])[0]
    seconds = time.perf_counter() - began
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    kept = det.boxes[det.scores >= 0.5]

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)

    ious = [round(max(iou(box, shape.box * factor) for box in kept), 3) for shape in scene.shapes]
    print(json.dumps({"size": f"{args.width}x{args.height}", "note": det.scale_note, "seconds": round(seconds, 2),
                      "peak_rss_growth_mb": round(grown / 2**20), "best_iou_per_shape": ious,
                      "failure": det.failure}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
