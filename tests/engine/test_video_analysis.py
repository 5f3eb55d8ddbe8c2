"""Strided video analysis: results belong to their frames, ranges, cancel, progress, batching,
and the bundled demo model finding the moving shapes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from engine import video_analysis
from engine.demo.shapes_video import write_shapes_video
from engine.types import CancelToken
from engine.video import VideoAnalysis, analyse_video, choose_batch_size
from video_helpers import BlobDetector, iou, make_bad_videos

FPS = 25.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "moving.mp4"
    truth = write_shapes_video(path, frames=40, fps=FPS)
    return path, truth


def _matches(result, truth, min_score=0.5, min_iou=0.5) -> list[bool]:
    """For each true shape of the frame: a detection of its class overlapping it enough."""
    det = result.detections.filter(min_score)
    found = []
    for label, box in truth[result.frame_index]:
        found.append(any(int(l) == label + 1 and iou(b, box) >= min_iou for b, l in zip(det.boxes, det.labels)))
    return found


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sightline-decode" and t.is_alive()]


def test_stride_results_belong_to_their_frames(clip):
    path, truth = clip
    results = list(analyse_video(BlobDetector(), path, stride=7))
    assert [r.frame_index for r in results] == [0, 7, 14, 21, 28, 35]
    assert [r.time_s for r in results] == pytest.approx([i / FPS for i in (0, 7, 14, 21, 28, 35)])
    for result in results:  # the shapes move 1.5 to 3 px a frame: a frame off would show
        assert all(_matches(result, truth, min_iou=0.85)), result.frame_index


def test_time_range(clip):
    analysis = VideoAnalysis(BlobDetector(), clip[0], start_s=0.4, end_s=1.0, stride=4)
    assert analysis.total == 4
    assert [r.frame_index for r in analysis] == [10, 14, 18, 22]
    assert analysis.done == 4 and not analysis.cancelled and analysis.finished
    assert analysis.analysed_stop == 25  # the last result holds until the range ends


def test_decoding_runs_on_its_own_thread(clip):
    detector = BlobDetector()
    list(analyse_video(detector, clip[0], stride=10, streams=1))
    assert detector.threads == {threading.current_thread().name}  # one stream: model calls on the caller's thread
    assert not _decode_threads()


class _ThreadsSeen(BlobDetector):
    """Records torch's thread count as each model call sees it, and holds each call a while
    so two can overlap."""

    def __init__(self):
        super().__init__(delay=0.05)
        self.torch_threads: list[int] = []
        self.running = self.most_running = 0
        self._lock = threading.Lock()

    def predict(self, images):
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.torch_threads.append(torch.get_num_threads())
        try:
            return super().predict(images)
        finally:
            with self._lock:
                self.running -= 1


def test_on_the_cpu_two_calls_run_side_by_side_on_half_the_threads_each(clip):
    default = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        detector = _ThreadsSeen()
        results = list(analyse_video(detector, clip[0], stride=2))
        assert [r.frame_index for r in results] == list(range(0, 40, 2))  # in order all the same
        assert all(all(_matches(r, clip[1], min_iou=0.85)) for r in results)
        assert len(detector.threads - {threading.current_thread().name}) == 2
        assert detector.most_running == 2
        assert set(detector.torch_threads) == {1}
        assert torch.get_num_threads() == 2  # the process default is as it was
        started_later = []
        later = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
        later.start()
        later.join()
        assert started_later == [2]  # threads started afterwards get the default, not a stream's share
    finally:
        torch.set_num_threads(default)


def test_cancel_keeps_finished_frames(clip):
    path, truth = clip
    token = CancelToken()
    analysis = analyse_video(BlobDetector(delay=0.01), path, stride=2, cancel=token, batch_size=1)
    kept = []
    for result in analysis:
        kept.append(result)
        if len(kept) == 3:
            token.cancel()
    assert [r.frame_index for r in kept] == [0, 2, 4]
    assert analysis.cancelled and analysis.done == 3 and analysis.finished
    assert all(all(_matches(r, truth)) for r in kept)  # what was finished is whole and right
    time.sleep(0.1)
    assert not _decode_threads()


def test_leaving_the_loop_early_stops_the_run(clip):
    analysis = analyse_video(BlobDetector(), clip[0])
    for result in analysis:
        if result.frame_index == 2:
            break  # the loop drops its generator, which closes it
    assert analysis.done == 3 and analysis.cancelled and analysis.finished
    time.sleep(0.1)
    assert not _decode_threads()


def test_progress_reports_done_total_and_time_left(clip):
    reports = []
    analysis = analyse_video(BlobDetector(delay=0.005), clip[0], stride=5, progress=reports.append)
    list(analysis)
    assert reports[0].done == 0 and reports[0].total == 8
    assert [p.done for p in reports[1:]] == list(range(1, 9))
    assert reports[3].seconds_left is not None and reports[-1].seconds_left == 0
    assert "frames/s" in reports[-1].message


def test_explicit_batches_keep_frame_order(clip):
    detector = BlobDetector()
    results = list(analyse_video(detector, clip[0], stride=3, batch_size=4))
    assert [r.frame_index for r in results] == list(range(0, 40, 3))
    assert detector.calls == [4, 4, 4, 2]
    assert detector.batch_size == 1  # restored after each batch


def test_truncated_video_analyses_what_can_be_read(tmp_path):
    path = make_bad_videos(tmp_path)["truncated.avi"]
    analysis = analyse_video(BlobDetector(), path, stride=3)
    indices = [r.frame_index for r in analysis]
    assert indices and indices == list(range(0, indices[-1] + 1, 3))
    assert analysis.warnings and str(path) in analysis.warnings[0]


def test_on_the_cpu_frames_go_one_per_call_two_calls_at_once(clip):
    detector = BlobDetector()
    results = list(analyse_video(detector, clip[0], stride=3, streams=2))
    assert [r.frame_index for r in results] == list(range(0, 40, 3))
    assert detector.calls == [1] * 14  # 14 frames: measured faster per frame than two per call
    one_stream = BlobDetector()
    list(analyse_video(one_stream, clip[0], stride=3, streams=1))
    assert one_stream.calls == [2] * 7  # one stream: two a call measured faster than one


class _TimedCuda:
    """Pretends to be a CUDA detector whose call time grows with the batch in a set way."""

    class_names = ("__background__", "thing")

    def __init__(self, seconds_for_batch):
        self.device = torch.device("cuda")
        self.batch_size = 4
        self.seconds_for_batch = seconds_for_batch

    def predict(self, images):
        for start in range(0, len(images), self.batch_size):
            time.sleep(self.seconds_for_batch(len(images[start:start + self.batch_size])))
        return [None] * len(images)


@pytest.mark.parametrize("cost, expected", [
    (lambda n: 0.02 + 0.002 * n, 8),  # fixed overhead per call: bigger batches pay
    (lambda n: 0.004 * n * n, 1),  # cost per frame grows with the batch: stay at 1
])
def test_choose_batch_size_on_cuda_keeps_the_fastest_per_frame(monkeypatch, cost, expected):
    monkeypatch.setattr(video_analysis, "_synchronise", lambda detector: None)
    detector = _TimedCuda(cost)
    frames = [np.zeros((24, 32, 3), np.uint8)] * 8
    assert choose_batch_size(detector, frames, repeats=1) == expected
    assert detector.batch_size == 4  # left as it was


@pytest.fixture(scope="module")
def one_thread():
    """The model runs on one thread: the machine's cores are shared with other work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_demo_model_finds_the_moving_shapes(clip, one_thread):
    from engine.detect import Detector

    path, truth = clip
    results = list(analyse_video(Detector("demo-shapes", device="cpu"), path, stride=8))
    assert [r.frame_index for r in results] == [0, 8, 16, 24, 32]
    found = [ok for r in results for ok in _matches(r, truth, min_score=0.5, min_iou=0.5)]
    assert sum(found) >= 0.8 * len(found), f"{sum(found)} of {len(found)} shapes found"


def test_on_cuda_the_batch_is_measured_then_used(clip, monkeypatch):
    """The CUDA path without a GPU: a stand-in whose calls cost a fixed overhead."""
    monkeypatch.setattr(video_analysis, "_synchronise", lambda detector: None)

    class CudaBlobs(BlobDetector):
        def __init__(self):
            super().__init__()
            self.device = torch.device("cuda")
            self.batch_size = 4

        def predict(self, images):
            for _start in range(0, len(images), self.batch_size):
                time.sleep(0.05)  # per call: batches pay (large beside the blob search, even under load)
            return super().predict(images)

    detector = CudaBlobs()
    analysis = analyse_video(detector, clip[0], stride=2)
    results = list(analysis)
    assert [r.frame_index for r in results] == list(range(0, 40, 2))
    assert analysis.batch_size == 8
    assert detector.calls[-3:] == [8, 8, 4]  # after the timing runs: 20 frames in batches of 8
    assert all(all(_matches(r, clip[1], min_iou=0.85)) for r in results)
