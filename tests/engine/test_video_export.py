"""Annotated video (held results, frame count checked, codec fallback) and per-frame COCO/CSV."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

import av

from engine import video_export, video_h264
from engine.draw import draw_detections
from engine.types import Detections
from engine.demo.shapes_video import write_shapes_video
from engine.video import (
    HeldResults,
    VideoReader,
    VideoWriteError,
    analyse_video,
    frame_items,
    write_annotated_video,
    write_video_coco,
    write_video_csv,
)
from video_helpers import BlobDetector


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "source.avi"
    write_shapes_video(path, frames=30, fps=25.0, fourcc="MJPG")
    results = list(analyse_video(BlobDetector(), path, stride=5))
    return path, results


def _count(path) -> tuple[int, int]:
    """(frames the header claims, frames that decode)."""
    with VideoReader(path) as reader:
        return reader.info.frame_count, reader.count_frames()


def test_annotated_video_has_every_frame_of_the_range(analysed, tmp_path):
    source, results = analysed
    out = tmp_path / "annotated.mp4"
    report = write_annotated_video(source, {r.frame_index: r.detections for r in results}, out)
    assert report.path == out and report.codec == "h264" and report.frames == 30 and not report.fell_back
    assert _count(out) == (30, 30)
    assert str(out) in report.message() and "h264" in report.message()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4"]  # no temporary left
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"


def test_without_an_h264_encoder_mp4_falls_back_to_mp4v_and_says_so(analysed, tmp_path, monkeypatch):
    source, results = analysed
    monkeypatch.setattr(video_h264, "ENCODERS", ("no-such-encoder",))
    out = tmp_path / "plain.mp4"
    report = write_annotated_video(source, {r.frame_index: r.detections for r in results}, out)
    assert report.path == out and report.codec == "mp4v" and report.fell_back and _count(out) == (30, 30)
    assert "h264 .mp4: this FFmpeg" in report.message() and "no H.264 encoder" in report.message()


def test_h264_pads_odd_frame_sizes(tmp_path):
    path = tmp_path / "odd.avi"
    write_shapes_video(path, frames=5, width=161, height=121, fps=10.0, fourcc="MJPG")
    report = write_annotated_video(path, {}, tmp_path / "odd.mp4")
    assert report.codec == "h264" and _count(report.path) == (5, 5)


def test_a_range_exports_just_that_range(analysed, tmp_path):
    source, results = analysed
    out = tmp_path / "part.avi"
    report = write_annotated_video(source, {r.frame_index: r.detections for r in results}, out,
                                   start_frame=7, stop_frame=19)
    assert report.codec == "MJPG" and _count(out) == (12, 12)


def test_results_are_held_between_analysed_frames(analysed, tmp_path):
    source, results = analysed
    by_frame = {r.frame_index: r.detections for r in results}
    out = tmp_path / "held.avi"
    write_annotated_video(source, by_frame, out)
    with VideoReader(source) as original, VideoReader(out) as written:
        for index, holder, later in ((7, 5, 10), (14, 10, 15), (29, 25, None)):
            frame = original.read(index)
            got = written.read(index).astype(int)
            held = draw_detections(frame, by_frame[holder]).astype(int)
            plain = frame.astype(int)
            wrong = draw_detections(frame, by_frame[later]).astype(int) if later else plain
            overlay = (held != plain).any(axis=2) | (wrong != plain).any(axis=2)  # where it matters

            def off(expected, got=got, overlay=overlay):
                return np.abs(got - expected)[overlay].mean()

            assert off(held) < off(plain) / 3 and off(held) < off(wrong) / 3, index


def test_held_results_lookup():
    assert HeldResults({}).at(3) is None
    det = Detections.empty((4, 4), ("bg", "x"))
    held = HeldResults({5: det, 10: det})
    assert held.at(4) is None and held.at(5) is not None and held.at(99) is not None


def test_falls_back_when_the_preferred_codec_cannot_be_opened(analysed, tmp_path):
    source, results = analysed
    out = tmp_path / "clip.mp4"
    report = write_annotated_video(source, {r.frame_index: r.detections for r in results}, out, fourcc="QQQQ")
    assert report.fell_back and report.path == tmp_path / "clip.avi" and report.codec == "MJPG"
    assert "QQQQ" in report.message() and "clip.avi" in report.message()
    assert _count(report.path)[1] == 30 and not out.exists()


def test_falls_back_when_the_written_file_does_not_read_back(analysed, tmp_path, monkeypatch):
    source, results = analysed
    real = video_export._count_frames
    monkeypatch.setattr(video_export, "_count_frames",
                        lambda path: 3 if path.suffix == ".mp4" else real(path))  # mp4 "broken"
    report = write_annotated_video(source, {r.frame_index: r.detections for r in results}, tmp_path / "v.mp4")
    assert report.path.suffix == ".avi" and report.frames == 30
    assert "3 of 30" in report.message()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.avi"]


def test_nothing_works_raises_and_leaves_nothing(analysed, tmp_path, monkeypatch):
    source, results = analysed
    monkeypatch.setattr(video_export, "_count_frames", lambda path: 0)
    with pytest.raises(VideoWriteError, match="no codec"):
        write_annotated_video(source, {}, tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_type_is_refused(analysed, tmp_path):
    with pytest.raises(ValueError, match="unknown video file type"):
        write_annotated_video(analysed[0], {}, tmp_path / "v.gif")


def test_coco_has_one_image_per_analysed_frame_with_index_and_time(analysed, tmp_path):
    source, results = analysed
    out = write_video_coco(tmp_path / "r.json", source, results, model_name="blobs")
    coco = COCO(str(out))
    images = sorted(coco.dataset["images"], key=lambda im: im["id"])
    assert [im["frame_index"] for im in images] == [0, 5, 10, 15, 20, 25]
    assert [im["time_s"] for im in images] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(im["file_name"] == str(source) for im in images)
    assert len(coco.getAnnIds(imgIds=[images[1]["id"]])) == 3
    assert json.loads(out.read_text())["categories"][0]["name"] == "circle"


def test_csv_rows_carry_frame_index_and_time(analysed, tmp_path):
    source, results = analysed
    out = write_video_csv(tmp_path / "r.csv", source, results)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 18  # 3 shapes on 6 frames
    assert {row["frame_index"] for row in rows} == {"0", "5", "10", "15", "20", "25"}
    assert rows[-1]["time_s"] == "1.0"
    assert len(frame_items(source, results, min_score=0.95)[0].detections) == 0
