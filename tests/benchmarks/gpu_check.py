"""`make gpu-check`: one table of the engine's speed and memory on a GPU, mode by mode.

    .venv/bin/python tests/benchmarks/gpu_check.py [--device auto|cuda|cpu] [--small] [--budget-s 420]

For each model (demo-shapes, Mask R-CNN v2, Keypoint R-CNN, the ResNet classifier; random
weights where the real ones are not on this machine) and each mode (fp32, autocast fp16, fp16
with channels-last, batch 1/4/8, torch.compile of the convolutional trunk), images per second
through `Detector.predict` (the classifier: its forward pass) and peak memory; the stock
torchvision call in fp32 next to predict's fp32 row; video analysis (`VideoAnalysis`) against
a plain per-frame torchvision loop on the same frames (`video_speed.py`); and one classifier
training step (`engine.train.loop.train_one_epoch`) with and without AMP.

Made for one GPU in under 8 minutes: rows run cheapest first and, once `--budget-s` has been
spent, the rest are printed as skipped (torch.compile rows, the slowest, come last). A row
that fails says why and the others carry on. `--small` (the default off CUDA) runs the same
table at toy size on the CPU (160x120 frames, 128 px inference, 50 proposals and 5 detections
per image, batches 1/2); `tests/engine/test_gpu_check.py` runs it. CUDA-only modes say so there.
Peak memory: CUDA's peak allocated memory per row; on the CPU the process's resident memory,
sampled every 5 ms during the row.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, ROOT / "tests" / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import torch  # noqa: E402

from engine import devices, models  # noqa: E402
from engine.demo.shapes_video import default_shapes, render_frame  # noqa: E402
from engine.stock import stock_call, stock_models  # noqa: E402

DETECTORS = ("demo-shapes", "maskrcnn_resnet50_fpn_v2", "keypointrcnn_resnet50_fpn")
COMPILE_RESERVE_S = 120  # a torch.compile row starts only with this much budget left


@dataclass(frozen=True)
class Scale:
    width: int
    height: int
    size: Optional[int]  # detector inference size (None: the model's own)
    images: int  # images timed per row (at least the batch)
    batches: tuple[int, int]
    proposals: Optional[int]  # RPN proposals, and a tenth as many detections, per image (None: the model's own)
    classifier: str
    classifier_side: int
    train_batch: int
    train_steps: int
    video_frames: int
    video_models: tuple[str, ...]


FULL = Scale(640, 480, None, 16, (4, 8), None, "resnet50", 224, 32, 10, 48, ("demo-shapes", "maskrcnn_resnet50_fpn_v2"))
SMALL = Scale(160, 120, 128, 1, (2,), 50, "resnet18", 64, 8, 2, 6, ("demo-shapes",))


@dataclass(frozen=True)
class Mode:
    name: str
    batch: int = 1
    half: bool = False  # float16 autocast (CUDA only)
    channels_last: bool = False
    compiled: bool = False  # torch.compile (CUDA only here)


def modes(scale: Scale, cuda: bool) -> list[Mode]:
    """fp32, autocast fp16, channels-last, the batches, torch.compile; on the CPU without fp16."""
    fast = "fp16 + channels-last" if cuda else "channels-last"
    return [Mode("fp32"), Mode("autocast fp16", half=True), Mode(fast, half=cuda, channels_last=True),
            *[Mode(f"batch {b}, {fast}", b, cuda, True) for b in scale.batches],
            Mode(f"torch.compile, {fast}", half=cuda, channels_last=True, compiled=True)]


@dataclass
class Row:
    model: str
    mode: str
    batch: int = 1
    rate: Optional[float] = None  # images (frames) per second
    peak_mib: Optional[float] = None
    note: str = ""


class PeakMemory:
    """Peak memory during a `with` block: CUDA's allocator, else resident memory sampled."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())

    @property
    def mib(self) -> float:
        return self.peak / 2**20


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds

    @property
    def left(self) -> float:
        return self.deadline - time.perf_counter()


def timed_rate(fn: Callable[[], int], device: torch.device) -> tuple[float, float]:
    """(items per second, peak MiB) of one call of `fn`, which returns how many items it did."""
    with PeakMemory(device) as memory:
        began = time.perf_counter()
        count = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - began
    return count / seconds, memory.mib


def frames(scale: Scale, count: int) -> list:
    shapes = default_shapes(scale.width, scale.height)
    return [render_frame(7 * i, scale.width, scale.height, shapes)[0] for i in range(count)]


def guarded(row: Row, budget: Budget, fn: Callable[[Row], None], reserve: float = 0.0) -> Row:
    """Runs `fn(row)` unless the budget is spent; a failure becomes the row's note."""
    if budget.left < reserve:
        row.note = "skipped: time budget spent"
        return row
    try:
        fn(row)
    except Exception as exc:  # noqa: BLE001 - one row's failure is reported, the rest carry on
        row.note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
        if devices.is_out_of_memory(exc):
            devices.free_cached_memory(torch.device("cuda"))
    print(f"  {row.model:28s} {row.mode:30s} {format_rate(row.rate):>10s}  {row.note}", file=sys.stderr, flush=True)
    return row


def format_rate(rate: Optional[float]) -> str:
    return "" if rate is None else f"{rate:.2f}" if rate < 100 else f"{rate:.0f}"


def print_table(rows: list[Row], title: str, out=sys.stdout) -> None:
    out.write(f"{title}\n\n| model | mode | batch | images/s | peak memory (MiB) | note |\n")
    out.write("| --- | --- | --- | --- | --- | --- |\n")
    for r in rows:
        peak = "" if r.peak_mib is None else f"{r.peak_mib:.0f}"
        out.write(f"| {r.model} | {r.mode} | {r.batch} | {format_rate(r.rate)} | {peak} | {r.note} |\n")
    out.flush()


@dataclass
class Task:
    row: Row
    run: Callable[[Row], None]
    late: bool = False  # torch.compile: run after everything else, with COMPILE_RESERVE_S left


def _cuda_only(mode: Mode, device: torch.device) -> bool:
    return device.type != "cuda" and (mode.half or mode.compiled)


def _limit_proposals(detector, scale: Scale) -> None:
    if scale.proposals:
        for model in detector._models:
            model.rpn._pre_nms_top_n["testing"] = 2 * scale.proposals
            model.rpn._post_nms_top_n["testing"] = scale.proposals
            model.roi_heads.detections_per_img = max(1, scale.proposals // 10)  # mask/keypoint heads' work


def make_detector(name: str, scale: Scale, device: torch.device):
    from engine.detect import Detector

    spec = models.get_spec(name)
    random = not spec.weight_status().available
    size = None if name == models.DEMO_MODEL else scale.size
    detector = Detector(name, device=str(device), size=size, random_weights=random, channels_last=False)
    _limit_proposals(detector, scale)
    return detector, f"{name}{' (random weights)' if random else ''}"


@contextlib.contextmanager
def detector_mode(detector, mode: Mode):
    """The detector set up for `mode` (precision, memory order, batch, compiled trunk)."""
    trunks = [model.backbone for model in detector._models]
    detector.autocast, detector.batch_size = mode.half, mode.batch
    detector.set_channels_last(mode.channels_last)
    if mode.compiled:
        for model in detector._models:
            model.backbone = torch.compile(model.backbone, dynamic=False)
    try:
        yield
    finally:
        for model, trunk in zip(detector._models, trunks):
            model.backbone = trunk


def detection_tasks(name: str, scale: Scale, device: torch.device) -> list[Task]:
    detector, label = make_detector(name, scale, device)
    images = frames(scale, max(scale.images, *scale.batches))
    tasks = []
    for mode in modes(scale, device.type == "cuda"):
        work = images[: max(scale.images, mode.batch)]

        def run(row: Row, mode=mode, work=work) -> None:
            with detector_mode(detector, mode):
                began = time.perf_counter()
                detector.predict(work[: mode.batch])  # warm-up (and compilation)
                if mode.compiled:
                    row.note = f"compiled in {time.perf_counter() - began:.0f} s"
                row.rate, row.peak_mib = timed_rate(lambda: len(detector.predict(work)), device)

        tasks.append(_task(Row(label, mode.name, mode.batch), run, mode, device))
    tasks.insert(1, Task(Row(label, "stock torchvision call, fp32"), lambda row: _stock_row(detector, images, row)))
    return tasks


def _task(row: Row, run, mode: Mode, device: torch.device) -> Task:
    if _cuda_only(mode, device):
        row.note = "CUDA only"
        return Task(row, lambda r: None)
    return Task(row, run, late=mode.compiled)


def _stock_row(detector, images, row: Row) -> None:
    with detector_mode(detector, Mode("fp32")):
        stock = stock_models(detector)
    device = detector.device
    stock_call(stock, images[:1], device, autocast=False)  # warm-up
    row.rate, row.peak_mib = timed_rate(
        lambda: sum(len(stock_call(stock, [im], device, autocast=False)[0]) for im in images), device)


def classifier_tasks(scale: Scale, device: torch.device) -> list[Task]:
    from torchvision.models import get_model

    model = get_model(scale.classifier, weights=None, num_classes=10).to(device).eval()
    label = f"classifier {scale.classifier} {scale.classifier_side} px (random weights)"
    tasks = []
    for mode in modes(scale, device.type == "cuda"):
        def run(row: Row, mode=mode) -> None:
            layout = torch.channels_last if mode.channels_last else torch.contiguous_format
            net = model.to(memory_format=layout)
            net = torch.compile(net, dynamic=False) if mode.compiled else net
            x = torch.rand(mode.batch, 3, scale.classifier_side, scale.classifier_side, device=device)
            x = x.contiguous(memory_format=layout)
            calls = max(1, scale.images // mode.batch) * 4

            def forward(times: int) -> int:
                with torch.inference_mode(), devices.autocast_context(device, mode.half):
                    for _ in range(times):
                        net(x)
                return times * mode.batch

            began = time.perf_counter()
            forward(2)  # warm-up (and compilation)
            if mode.compiled:
                row.note = f"compiled in {time.perf_counter() - began:.0f} s"
            row.rate, row.peak_mib = timed_rate(lambda: forward(calls), device)

        tasks.append(_task(Row(label, mode.name, mode.batch), run, mode, device))
    return tasks


def training_tasks(scale: Scale, device: torch.device) -> list[Task]:
    from torchvision.models import get_model

    from engine.train.loop import train_one_epoch

    label = f"classifier {scale.classifier} training step"

    def run(row: Row, amp: bool) -> None:
        model = get_model(scale.classifier, weights=None, num_classes=10).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.rand(scale.train_batch, 3, scale.classifier_side, scale.classifier_side)
        y = torch.randint(0, 10, (scale.train_batch,))
        train_one_epoch(model, [(x, y)], optimizer, device, amp=amp)  # warm-up
        loader = [(x, y)] * scale.train_steps
        row.rate, row.peak_mib = timed_rate(
            lambda: train_one_epoch(model, loader, optimizer, device, amp=amp) and len(loader) * len(y), device)
        row.note = f"{1000 * scale.train_batch / row.rate:.0f} ms/step"

    amp = Row(label, "AMP (fp16 autocast + grad scaling)", scale.train_batch)
    if device.type != "cuda":
        amp.note = "CUDA only"
    return [Task(amp, lambda row: run(row, True) if device.type == "cuda" else None),
            Task(Row(label, "fp32", scale.train_batch), lambda row: run(row, False))]


def video_tasks(scale: Scale, device: torch.device, folder: Path) -> list[Task]:
    """Per model: the plain loop, VideoAnalysis as it runs by default (one model call at a time
    on CUDA, two side by side on the CPU), and VideoAnalysis with the other choice, so a GPU
    run shows whether two calls side by side pay there too."""
    from engine.detect import Detector
    from engine.model_streams import cpu_streams
    from video_speed import compare, write_clip

    tasks = []
    for name in scale.video_models:
        random = not models.get_spec(name).weight_status().available
        label = f"{name}{' (random weights)' if random else ''}, video {scale.width}x{scale.height}"
        default_streams = 1 if device.type == "cuda" else cpu_streams()
        other_streams = 2 if default_streams == 1 else 1
        plain = Row(label, "plain per-frame torchvision loop")
        ours = Row(label, f"VideoAnalysis, default: {_calls_at_once(default_streams)}")
        other = Row(label, f"VideoAnalysis, {_calls_at_once(other_streams)}")

        def run(row: Row, name=name, random=random, plain=plain, streams=None) -> None:
            detector = Detector(name, device=str(device), size=None if name == models.DEMO_MODEL else scale.size,
                                random_weights=random)
            _limit_proposals(detector, scale)
            clip = write_clip(folder, scale.video_frames, scale.width, scale.height)
            speed = compare(detector, clip, rounds=1 if scale is SMALL else 3, streams=streams)
            if streams is None:
                plain.rate = speed.plain_fps
            row.rate, row.batch = speed.analysis_fps, speed.batch
            row.note = f"{speed.ratio:.2f}x the plain loop, {speed.frames} frames"

        tasks += [Task(plain, lambda row: None), Task(ours, run),
                  Task(other, lambda row, run=run, streams=other_streams: run(row, streams=streams))]
    return tasks


def _calls_at_once(streams: int) -> str:
    return "one model call at a time" if streams == 1 else f"{streams} model calls side by side"


def run_tasks(tasks: list[Task], budget: Budget) -> list[Row]:
    for task in [t for t in tasks if not t.late] + [t for t in tasks if t.late]:
        guarded(task.row, budget, task.run, COMPILE_RESERVE_S if task.late else 0.0)
    return [t.row for t in tasks]


def main(argv: Optional[list[str]] = None, out=None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu (default auto)")
    parser.add_argument("--small", action="store_true", help="the toy-size table (the default off CUDA)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no row after this many seconds")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.resolve_device(args.device)
    scale = SMALL if args.small or device.type != "cuda" else FULL
    budget = Budget(args.budget_s)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sightline-gpu-check-") as folder:
        tasks = [t for name in DETECTORS for t in detection_tasks(name, scale, device)]
        tasks += classifier_tasks(scale, device) + training_tasks(scale, device)
        tasks += video_tasks(scale, device, Path(folder))
        rows = run_tasks(tasks, budget)
    title = (f"gpu-check on {devices.describe(device).description}, torch {torch.__version__}, "
             f"{'small' if scale is SMALL else 'full'} size, {time.perf_counter() - began:.0f} s")
    print_table(rows, title, out or sys.stdout)
    return rows


if __name__ == "__main__":
    main()
