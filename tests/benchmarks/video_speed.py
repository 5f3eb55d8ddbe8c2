"""Video analysis throughput against a plain per-frame torchvision loop on the same frames.

    .venv/bin/python tests/benchmarks/video_speed.py [--model demo-shapes] [--device cpu]
        [--frames 32] [--width 320 --height 240] [--size PX] [--rounds 3] [--threads N]
        [--batch N] [--streams N] [--score X] [--random-weights]

Writes a synthetic clip of moving shapes, then times, alternating, round after round:
- the plain loop: OpenCV reads a frame, BGR to RGB, the stock torchvision call on that one
  frame (`engine.stock`: `model([to_tensor(frame)])`, torchvision's own mask pasting, same
  weights, size and precision), its outputs brought to the CPU, then the next frame;
- `VideoAnalysis` (what `sightline detect clip.mp4 --score X` runs): frames decoded ahead
  on a thread, batched model calls (on the CPU two at once, each on half of torch's threads), boxes under X dropped before the mask and keypoint heads
  (the plain loop computes them and a user filters them out: the kept results are the same),
  masks pasted only into their boxes, results as numpy.
Prints frames per second of each (median over rounds) and the median of the per-round ratios.
Not collected by pytest (no test_ prefix); `gpu_check.py` uses `compare`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import torch  # noqa: E402

from engine.stock import stock_call, stock_models  # noqa: E402
from engine.video import VideoAnalysis  # noqa: E402


@dataclass(frozen=True)
class VideoSpeed:
    frames: int
    plain_fps: float
    analysis_fps: float
    ratio: float  # analysis / plain, median of the per-round ratios
    batch: int  # frames per model call the analysis used
    streams: int  # model calls the analysis ran side by side


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(models, path: Path, device: torch.device) -> int:
    """The per-frame loop a torchvision user writes; returns the frames analysed."""
    capture = cv2.VideoCapture(str(path))
    frames = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return frames
            outputs = stock_call(models, [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)], device)
            [{k: v.cpu() for k, v in out[0].items()} for out in outputs]
            frames += 1
    finally:
        capture.release()


def analysis_run(detector, path: Path, batch, streams=None) -> tuple[int, tuple[int, int]]:
    """(frames analysed, (batch size, streams) used) by a VideoAnalysis over the whole clip."""
    analysis = VideoAnalysis(detector, path, batch_size=batch, streams=streams)
    frames = sum(1 for _ in analysis)
    return frames, (analysis.batch_size or 1, analysis.streams or 1)


def _timed(fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


def compare(detector, path: Path, rounds: int = 3, batch=None, streams=None) -> VideoSpeed:
    """Both ways over the same clip, alternating which goes first; one warm-up of each."""
    models = stock_models(detector)
    plain = lambda: plain_loop(models, path, detector.device)  # noqa: E731
    analysis = lambda: analysis_run(detector, path, batch, streams)  # noqa: E731
    plain(), analysis()
    plain_fps, analysis_fps, ratios, used = [], [], [], (1, 1)
    for r in range(max(1, rounds)):
        order = (plain, analysis) if r % 2 == 0 else (analysis, plain)
        timed = {fn: _timed(fn) for fn in order}
        frames, plain_s = timed[plain]
        (_, used), analysis_s = timed[analysis]
        plain_fps.append(frames / plain_s)
        analysis_fps.append(frames / analysis_s)
        ratios.append(plain_s / analysis_s)
    return VideoSpeed(frames, statistics.median(plain_fps), statistics.median(analysis_fps),
                      statistics.median(ratios), *used)


def write_clip(folder: Path, frames: int, width: int, height: int) -> Path:
    from engine.demo.shapes_video import write_shapes_video

    path = folder / f"shapes-{width}x{height}.mp4"
    write_shapes_video(path, frames=frames, width=width, height=height, fps=25.0)
    return path


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both speed scripts share: which detector, where, at what size and score."""
    parser.add_argument("--model", default="demo-shapes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None, help="inference shorter side (default: the model's own)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--score", type=float, default=0.5,
                        help="the score kept, as `sightline detect --score` (default 0.5)")
    parser.add_argument("--random-weights", action="store_true")


def detector_from(args: argparse.Namespace):
    """The Detector those options name, keeping only scores >= --score as `sightline detect` does."""
    from engine.detect import Detector

    if args.threads:
        torch.set_num_threads(args.threads)
    detector = Detector(args.model, device=args.device, size=args.size, random_weights=args.random_weights)
    detector.set_score_floor(args.score)
    return detector


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--batch", type=int, default=None, help="frames per model call (default: VideoAnalysis's)")
    parser.add_argument("--streams", type=int, default=None,
                        help="model calls side by side (default: VideoAnalysis's: 2 on the CPU, 1 on CUDA)")
    args = parser.parse_args()
    detector = detector_from(args)
    with tempfile.TemporaryDirectory(prefix="sightline-video-speed-") as folder:
        clip = write_clip(Path(folder), args.frames, args.width, args.height)
        speed = compare(detector, clip, args.rounds, args.batch, args.streams)
    print(f"model {detector.name} on {detector.device_info.description}, {speed.frames} frames "
          f"{args.width}x{args.height}, {args.rounds} rounds interleaved, score >= {args.score} kept")
    print(f"plain per-frame loop  {speed.plain_fps:7.2f} frames/s")
    print(f"VideoAnalysis         {speed.analysis_fps:7.2f} frames/s  (batch {speed.batch}, {speed.streams} at once)")
    print(f"ratio                 {speed.ratio:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
