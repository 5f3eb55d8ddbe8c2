"""Memory over a long video analysis: resident memory at the start and the end of 2,000 frames.

    .venv/bin/python tests/benchmarks/bench_video_memory.py [--frames 2000] [--width 320 --height 240]
        [--model demo-shapes|blobs] [--size PX] [--stride 1] [--save-video out.mp4] [--threads 1]

Writes a synthetic clip of moving shapes, analyses it with `VideoAnalysis` (keeping, like the CLI,
only the detections at --score and above), optionally writes the annotated video, and prints
resident memory (RSS) after the model is loaded and warmed up, every 250 frames, and at the end.
Growth beyond 100 MB is a bug: the script exits 1 then. `--model blobs` swaps the model for a
colour-blob finder to measure the pipeline alone (decode thread, queues, writer) in seconds.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine"))

LIMIT_MB = 100


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, where /proc is missing


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def kept_mb(kept) -> float:
    """Bytes of the numpy arrays the kept results hold (a mask bitmap counts its whole base)."""
    seen, total = set(), 0
    for _, det in kept:
        arrays = [det.boxes, det.scores, det.labels, det.keypoints]
        arrays += [m.bitmap for m in det.masks or ()]
        for array in arrays:
            if array is None:
                continue
            base = array if array.base is None else array.base
            if id(base) not in seen:
                seen.add(id(base))
                total += getattr(base, "nbytes", array.nbytes) + 112
    return total / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--model", default="demo-shapes", help="registry model, weights file, or 'blobs'")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None, help="inference shorter side (default: the model's own)")
    parser.add_argument("--keep", choices=("filtered", "none"), default="filtered",
                        help="keep each frame's detections at --score (as `sightline detect` does) or nothing")
    parser.add_argument("--every", type=int, default=250, help="print RSS every this many frames")
    parser.add_argument("--score", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--save-video", type=Path, default=None, help="also write the annotated video")
    parser.add_argument("--video", type=Path, default=None, help="analyse this file instead of a synthetic one")
    args = parser.parse_args()

    import torch

    from engine.demo.shapes_video import write_shapes_video
    from engine.video import VideoAnalysis, write_annotated_video
    from engine.video_io import trim_heap

    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="sightline-bench-"))
    video = args.video
    if video is None:
        video = folder / "long.mp4"
        began = time.perf_counter()
        write_shapes_video(video, frames=args.frames, width=args.width, height=args.height, fps=25.0)
        print(f"wrote {video} ({args.frames} frames {args.width}x{args.height}) in {time.perf_counter() - began:.1f} s")

    if args.model == "blobs":
        from video_helpers import BlobDetector

        detector = BlobDetector()
    else:
        from engine.detect import Detector

        detector = Detector(args.model, device=args.device, size=args.size)
    from engine.video import VideoReader

    with VideoReader(video) as reader:  # warm-up on real frames: every head's buffers, once
        for _, frame in reader.frames(0, 10, 2):
            detector.predict([frame])
    trim_heap(force=True)  # the baseline; the end is measured as it is, untrimmed
    start_rss = rss_mb()
    print(f"model {getattr(detector, 'name', args.model)} on {detector.device}; RSS at start {start_rss:.1f} MB")

    kept = []
    analysis = VideoAnalysis(detector, video, stride=args.stride)
    began = time.perf_counter()
    for result in analysis:
        if args.keep == "filtered":
            kept.append((result.frame_index, result.detections.filter(args.score)))
        if analysis.done % args.every == 0:
            print(f"  {analysis.done:5d}/{analysis.total} frames  RSS {rss_mb():7.1f} MB  "
                  f"{analysis.rate:6.2f} frames/s", flush=True)
    seconds = time.perf_counter() - began
    end_rss = rss_mb()
    print(f"analysed {analysis.done} frames in {seconds:.1f} s ({analysis.done / seconds:.2f} frames/s), "
          f"batch {analysis.batch_size}")
    if args.save_video:
        began = time.perf_counter()
        report = write_annotated_video(video, dict(kept), args.save_video, stop_frame=analysis.analysed_stop)
        print(f"{report.message()} in {time.perf_counter() - began:.1f} s; RSS {rss_mb():.1f} MB")
        end_rss = rss_mb()
    if kept:
        held = sum(len(det) for _, det in kept)
        print(f"results kept: {len(kept)} frames, {held} detections, about {kept_mb(kept):.1f} MB of arrays")
    growth = end_rss - start_rss
    print(f"RSS start {start_rss:.1f} MB, end {end_rss:.1f} MB, growth {growth:+.1f} MB "
          f"(limit {LIMIT_MB} MB), peak {peak_mb():.1f} MB")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    if growth > LIMIT_MB:
        print("FAIL: memory grew beyond the limit")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
