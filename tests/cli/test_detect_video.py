"""`sightline detect VIDEO --stride N [--start T --end T] [--out] [--save-video]` with the
bundled demo model: per-frame results, annotated video, ranges and bad inputs."""

from __future__ import annotations

import csv
import json

import cv2
import pytest
import torch

from engine import cli
from engine.commands import detect as detect_command
from engine.commands.detect_video import parse_time
from engine.demo.shapes_video import write_shapes_video
from engine.video import VideoReader


@pytest.fixture(scope="module")
def demo_detector():
    from engine.detect import Detector

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the cores are shared; one thread is faster here
    yield Detector("demo-shapes", device="cpu")
    torch.set_num_threads(before)


@pytest.fixture
def run(demo_detector, monkeypatch, capsys):
    """Runs the command in-process with the demo model loaded once."""
    monkeypatch.setattr(detect_command, "make_detector", lambda args: demo_detector)

    def run_command(*argv):
        code = cli.main(["detect", *map(str, argv)])
        return code, capsys.readouterr().err

    return run_command


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    write_shapes_video(folder / "a.mp4", frames=30, fps=25.0)
    write_shapes_video(folder / "b.avi", frames=12, fps=10.0, fourcc="MJPG")
    return folder


def _frames(path) -> int:
    with VideoReader(path) as reader:
        return reader.count_frames()


def test_stride_writes_one_coco_image_per_analysed_frame_and_a_video(run, videos, tmp_path):
    out, table, annotated = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "annotated.mp4"
    code, err = run(videos / "a.mp4", "--stride", 10, "--score", 0.05, "--out", out, "--csv", table,
                    "--save-video", annotated)
    assert code == 0, err
    images = json.loads(out.read_text())["images"]
    assert [(im["frame_index"], im["time_s"]) for im in images] == [(0, 0.0), (10, 0.4), (20, 0.8)]
    assert all(im["file_name"] == str(videos / "a.mp4") and im["width"] == 320 for im in images)
    assert "frame_index" in next(csv.reader(table.open()))
    assert _frames(annotated) == 30  # every frame of the range, results held in between
    assert f"wrote {annotated} (h264, 30 frames)" in err
    assert "3 frames analysed" in err and "a.mp4 [" in err  # the progress bar


def test_time_range(run, videos, tmp_path):
    out, annotated = tmp_path / "r.json", tmp_path / "part.avi"
    code, err = run(videos / "a.mp4", "--stride", 5, "--start", "0.4", "--end", "0:00.8", "--out", out,
                    "--save-video", annotated)
    assert code == 0, err
    assert [im["frame_index"] for im in json.loads(out.read_text())["images"]] == [10, 15]
    assert _frames(annotated) == 10  # frames 10..19


def test_several_videos_get_one_annotated_file_each(run, videos, tmp_path):
    code, err = run(videos / "a.mp4", videos / "b.avi", "--stride", 15, "--save-video", tmp_path / "out.mp4")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-a.mp4", "out-b.mp4"]
    assert _frames(tmp_path / "out-a.mp4") == 30 and _frames(tmp_path / "out-b.mp4") == 12


def test_bad_inputs_each_get_a_message_and_readable_frames_are_used(run, videos, tmp_path):
    good = (videos / "b.avi").read_bytes()
    (tmp_path / "truncated.avi").write_bytes(good[: len(good) // 2])
    (tmp_path / "not-a-video.mp4").write_text("hello\n" * 50)
    (tmp_path / "bad-codec.avi").write_bytes(good.replace(b"MJPG", b"ZZZZ"))
    writer = cv2.VideoWriter(str(tmp_path / "no-frames.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    writer.release()
    truncated_mp4 = (videos / "a.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(truncated_mp4[: len(truncated_mp4) // 2])
    out = tmp_path / "r.json"
    code, err = run(tmp_path, "--stride", 4, "--out", out)
    assert code == 1
    for name, words in (("truncated.avi", "truncated"), ("not-a-video.mp4", "not a video"),
                        ("bad-codec.avi", "codec ('ZZZZ')"), ("no-frames.avi", "no video frames"),
                        ("truncated.mp4", "truncated")):
        assert any(str(tmp_path / name) in line and words in line for line in err.splitlines()), name
    frames = [im["frame_index"] for im in json.loads(out.read_text())["images"]]
    assert frames and frames == list(range(0, 4 * len(frames), 4))  # the truncated AVI's readable part


def test_bad_arguments_are_usage_errors(run, videos, capsys):
    for argv in (("--stride", "0"), ("--start", "soon"), ("--save-video", "x.gif")):
        with pytest.raises(SystemExit) as caught:
            run(videos / "a.mp4", *argv)
        assert caught.value.code == 2
    code, err = run(videos / "a.mp4", "--start", "5")
    assert code == 1 and "past the end" in err and str(videos / "a.mp4") in err


def test_parse_time():
    assert parse_time("90") == 90 and parse_time("1:30.5") == 90.5 and parse_time("1:00:00") == 3600


def test_ctrl_c_keeps_the_frames_already_analysed(demo_detector, videos, tmp_path, monkeypatch, capsys):
    class Interrupted:
        """The demo model, with Ctrl-C pressed during the third frame."""

        def __init__(self):
            self.calls = 0

        def __getattr__(self, name):
            return getattr(demo_detector, name)

        def predict(self, images):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return demo_detector.predict(images)

    monkeypatch.setattr(detect_command, "make_detector", lambda args: Interrupted())
    out = tmp_path / "r.json"
    code = cli.main(["detect", str(videos / "a.mp4"), str(videos / "b.avi"), "--stride", "5", "--video-batch", "1",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "interrupted" in err
    assert [im["frame_index"] for im in json.loads(out.read_text())["images"]] == [0, 5]
    assert "b.avi: not analysed (interrupted)" in err
