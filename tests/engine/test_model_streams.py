"""Model calls side by side: results in the order given, however they finish; a stop or an
error leaves no call running behind the caller's back; still images on two streams."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
import torch

from engine.image_batches import detect_files
from engine.model_streams import ModelStreams
from engine.types import CancelToken
from video_helpers import BlobDetector


@pytest.fixture
def two_threads():
    default = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(default)


class _Overlap:
    """Work whose later items finish first; counts how many run at once."""

    def __init__(self):
        self.running = self.most = 0
        self.finished: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.06 if item % 2 == 0 else 0.01)
        with self.lock:
            self.running -= 1
            self.finished.append(item)
        if item == 99:
            raise ValueError("item 99 failed")
        return item * 10


def test_results_come_in_the_order_given_while_two_run_at_once(two_threads):
    work = _Overlap()
    with ModelStreams(2) as streams:
        got = list(streams.ordered(work, range(8)))
    assert got == [(i, i * 10) for i in range(8)]
    assert work.most == 2
    assert work.finished != sorted(work.finished)  # they did finish out of order


def test_a_stop_yields_nothing_more_and_waits_for_what_is_running(two_threads):
    work, stop = _Overlap(), threading.Event()
    got = []
    with ModelStreams(2) as streams:
        for item, _ in streams.ordered(work, range(20), stop=stop.is_set):
            got.append(item)
            if item == 2:
                stop.set()
        assert work.running == 0  # nothing is left running once the loop has ended
    assert got == [0, 1, 2]
    assert len(work.finished) < 8  # what had not started never ran


def test_an_error_reaches_the_caller_after_the_other_call_ends(two_threads):
    work = _Overlap()
    with ModelStreams(2) as streams:
        with pytest.raises(ValueError, match="item 99"):
            list(streams.ordered(work, [0, 99, 2, 4]))
        assert work.running == 0


def _write_scenes(folder, count):
    detector = BlobDetector()
    paths = []
    for i in range(count):
        image = np.full((120, 160, 3), 200, np.uint8)
        cv2.rectangle(image, (10 + 10 * i, 20), (50 + 10 * i, 60), (20, 30, 220), -1)
        path = folder / f"scene{i}.png"
        cv2.imwrite(str(path), image[:, :, ::-1])
        paths.append(path)
    return detector, paths


def test_still_images_on_two_streams_come_back_in_order_with_bad_files_in_place(tmp_path, two_threads):
    detector, paths = _write_scenes(tmp_path, 6)
    bad = tmp_path / "broken.png"
    bad.write_text("not a picture")
    paths.insert(3, bad)
    results = list(detect_files(detector, paths, streams=2))
    assert [r.path for r in results] == paths
    assert results[3].failure and results[3].detections is None
    for i, result in enumerate(r for r in results if r.path != bad):
        assert result.detections.boxes[0][0] == pytest.approx(10 + 10 * i, abs=1)  # its own file's box
    assert len(detector.threads - {threading.current_thread().name}) == 2


def test_cancelling_still_images_on_two_streams_stops_the_run(tmp_path, two_threads):
    detector, paths = _write_scenes(tmp_path, 8)
    detector.delay = 0.02
    token, got = CancelToken(), []
    for result in detect_files(detector, paths, cancel=token, streams=2):
        got.append(result.path)
        if len(got) == 2:
            token.cancel()
    assert got == paths[:2]
    assert len(detector.calls) < 8


def test_when_the_items_fail_the_work_already_started_is_yielded_first(two_threads):
    def items():
        yield from range(3)
        raise OSError("the disk went away")

    got = []
    with ModelStreams(2) as streams:
        with pytest.raises(OSError, match="disk went away"):
            for _item, result in streams.ordered(_Overlap(), items()):
                got.append(result)
    assert got == [0, 10, 20]
