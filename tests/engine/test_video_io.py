"""Video reading: probe, random access, strided ranges, decode-ahead, and bad files."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.demo.shapes_video import write_shapes_video
from engine.video import Prefetcher, VideoError, VideoReader, frame_span, probe_video
from video_helpers import make_bad_videos


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    truth = write_shapes_video(path, frames=24, fps=20.0)
    return path, truth


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return make_bad_videos(tmp_path_factory.mktemp("bad"))


def test_probe_reports_size_rate_count_and_duration(clip):
    info = probe_video(clip[0])
    assert (info.width, info.height, info.frame_count) == (320, 240, 24)
    assert info.fps == pytest.approx(20.0)
    assert info.duration == pytest.approx(1.2)
    assert info.time_of(10) == pytest.approx(0.5)
    assert info.frame_at(0.5) == 10 and info.frame_at(0.51) == 11


def test_random_access_matches_sequential_reading(clip):
    with VideoReader(clip[0]) as reader:
        sequential = {i: frame for i, frame in reader.frames()}
    assert sorted(sequential) == list(range(24))
    with VideoReader(clip[0]) as reader:
        for index in (17, 3, 4, 5, 23, 0, 12, 11, 20):  # backwards, forwards, short and long jumps
            frame = reader.read(index)
            assert frame is not None and np.array_equal(frame, sequential[index]), index
        assert reader.read(24) is None and reader.read(-1) is None
        assert reader.read(6) is not None  # still usable after reading past the end


def test_frames_are_rgb(clip):
    path, truth = clip
    with VideoReader(path) as reader:
        frame = reader.read(0)
    label, box = truth[0][0]  # the red circle
    cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
    r, g, b = frame[cy, cx].astype(int)
    assert r > 180 and g < 90 and b < 90


def test_frames_with_stride_and_range(clip):
    with VideoReader(clip[0]) as reader:
        assert [i for i, _ in reader.frames(3, 20, 4)] == [3, 7, 11, 15, 19]
    with VideoReader(clip[0]) as reader:
        assert [i for i, _ in reader.frames(0, None, 10)] == [0, 10, 20]


def test_frame_span_from_times(clip):
    info = probe_video(clip[0])
    span = frame_span(info, start_s=0.25, end_s=0.75, stride=2)
    assert (span.start, span.stop, span.count) == (5, 15, 5)
    assert frame_span(info).count == 24
    assert frame_span(info, end_s=99).stop == 24
    with pytest.raises(VideoError, match="past the end"):
        frame_span(info, start_s=5.0)
    with pytest.raises(ValueError):
        frame_span(info, start_s=0.5, end_s=0.4)
    with pytest.raises(ValueError):
        frame_span(info, stride=0)


def test_truncated_avi_gives_the_frames_it_has_and_a_warning(bad):
    path = bad["truncated.avi"]
    with VideoReader(path) as reader:
        indices = [i for i, _ in reader.frames()]
        assert 0 < len(indices) < 20
        assert indices == list(range(len(indices)))
        assert reader.frame_count == len(indices)
        assert any(str(path) in w and "truncated" in w for w in reader.warnings) and reader.short


@pytest.mark.parametrize("case, words", [
    ("truncated.mp4", "truncated"),
    ("no-frames.avi", "no video frames"),
    ("no-frames.mp4", "no video frames"),
    ("bad-codec.avi", "codec ('ZZZZ')"),
    ("not-a-video.mp4", "not a video"),
    ("empty.mp4", "empty"),
])
def test_bad_files_raise_a_clear_error_naming_the_file(bad, case, words):
    with pytest.raises(VideoError) as caught:
        VideoReader(bad[case])
    assert str(bad[case]) in str(caught.value)
    assert words in caught.value.reason


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        VideoReader(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="folder"):
        VideoReader(tmp_path)


def test_prefetcher_stays_bounded_and_stops_on_close():
    produced = []

    def numbers():
        for i in range(1000):
            produced.append(i)
            yield i

    prefetch = Prefetcher(numbers(), maxsize=3)
    taken = [next(prefetch) for _ in range(5)]
    time.sleep(0.2)  # give the producer every chance to run ahead
    assert taken == [0, 1, 2, 3, 4]
    assert len(produced) <= 5 + 3 + 1  # the queue, plus one item in the producer's hand
    prefetch.close()
    assert not any(t.name == "sightline-decode" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 20


def test_prefetcher_hands_errors_to_the_consumer():
    def failing():
        yield 1
        raise RuntimeError("decoder broke")

    with Prefetcher(failing()) as prefetch:
        assert next(prefetch) == 1
        with pytest.raises(RuntimeError, match="decoder broke"):
            next(prefetch)
