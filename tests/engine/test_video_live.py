"""Live mode: the newest frame wins, frames that arrive while busy are dropped, never queued."""

from __future__ import annotations

import threading
import time

import numpy as np
import torch

from engine.demo.shapes_video import write_shapes_video
from engine.video import LiveAnalyzer, VideoReader
from video_helpers import BlobDetector


def _frame(value: int) -> np.ndarray:
    return np.full((24, 32, 3), value % 256, np.uint8)


class GatedDetector(BlobDetector):
    """Each model call waits until the test opens the gate: busy for exactly as long as wanted."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def predict(self, images):
        self.entered.set()
        assert self.gate.wait(30)
        return super().predict(images)


def test_frames_arriving_while_busy_are_dropped_not_queued():
    detector = GatedDetector()
    results = []
    with LiveAnalyzer(detector, on_result=results.append) as live:
        frames = [_frame(i) for i in range(60)]
        live.submit(0, 0.0, frames[0])
        assert detector.entered.wait(10)  # frame 0 is in the model, which now stays busy
        for i in range(1, 60):  # the video plays on
            live.submit(i, i / 25, frames[i])
            stats = live.stats
            assert stats.busy and stats.waiting and stats.dropped == i - 1  # one waits, the rest dropped
        detector.gate.set()
        assert live.wait_idle(30)
        stats = live.stats
    assert (stats.submitted, stats.analysed, stats.dropped) == (60, 2, 58)
    assert [r.frame_index for r in results] == [0, 59]  # the newest frame won
    assert all(r.image is frames[r.frame_index] for r in results)  # each result keeps its own frame
    assert live.latest.frame_index == 59 and live.latest.detections.image_size == (24, 32)
    assert detector.calls == [1, 1]


def test_a_fast_stream_to_a_slow_model_is_mostly_dropped():
    detector = BlobDetector(delay=0.05)
    with LiveAnalyzer(detector) as live:
        for i in range(40):  # faster than the model can go
            live.submit(i, i / 200, _frame(i))
            time.sleep(0.005)
        assert live.wait_idle(30)
        stats = live.stats
    assert stats.analysed + stats.dropped == 40 and stats.dropped > stats.analysed
    assert live.latest.frame_index == 39
    assert 0 < stats.rate <= 1 / 0.05 * 1.2  # cannot beat the model's own speed


def test_the_rate_is_measured_and_decays_when_idle():
    with LiveAnalyzer(BlobDetector(delay=0.02), rate_window_s=0.5) as live:
        for i in range(15):
            live.submit(i, 0.0, _frame(i))
            live.wait_idle(2)
        assert 0 < live.stats.rate < 1 / 0.02 * 1.2  # about 50 a second; less on a busy machine
        time.sleep(0.6)
        assert live.stats.rate == 0.0


def test_reset_after_a_seek_discards_stale_results():
    delivered = []
    with LiveAnalyzer(BlobDetector(delay=0.2), on_result=delivered.append) as live:
        live.submit(1, 0.04, _frame(1))
        time.sleep(0.05)  # frame 1 is in the model now
        live.submit(2, 0.08, _frame(2))
        live.reset()  # the user jumped: frames 1 and 2 are stale
        live.submit(100, 4.0, _frame(100))
        assert live.wait_idle(5)
        assert [r.frame_index for r in delivered] == [100]
        assert live.latest.frame_index == 100 and live.latest.generation == live.generation
        assert live.stats.dropped == 1  # frame 2 never reached the model


def test_a_model_error_is_reported_and_the_worker_lives_on():
    class Flaky(BlobDetector):
        def predict(self, images):
            if images[0][0, 0, 0] == 13:
                raise RuntimeError("boom")
            return super().predict(images)

    with LiveAnalyzer(Flaky()) as live:
        live.submit(13, 0.0, _frame(13))
        live.wait_idle(5)
        assert "boom" in live.latest.error and len(live.latest.detections) == 0
        live.submit(14, 0.0, _frame(14))
        live.wait_idle(5)
        assert live.latest.frame_index == 14 and not live.latest.error


def test_stop_ends_the_worker():
    live = LiveAnalyzer(BlobDetector()).start()
    live.submit(0, 0.0, _frame(0))
    live.stop()
    assert not any(t.name == "sightline-live" and t.is_alive() for t in threading.enumerate())


def test_live_with_the_demo_model_while_a_video_plays(tmp_path):
    """Frames shown at the video's own rate; the model (much slower on this CPU) skips most."""
    from engine.detect import Detector

    path = tmp_path / "play.mp4"
    write_shapes_video(path, frames=12, fps=25.0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        detector = Detector("demo-shapes", device="cpu")
        with VideoReader(path) as reader, LiveAnalyzer(detector) as live:
            began = time.perf_counter()
            for index, frame in reader.frames():
                time.sleep(max(0.0, began + index / reader.fps - time.perf_counter()))  # play at 25 frames/s
                live.submit(index, reader.time_of(index), frame)
            assert live.wait_idle(300)
            stats = live.stats
    finally:
        torch.set_num_threads(before)
    assert stats.analysed + stats.dropped == 12 and stats.dropped > 0
    assert live.latest.frame_index == 11 and live.latest.detections.image_size == (240, 320)
