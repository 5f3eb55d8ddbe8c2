"""The Video dock in the review window: open, play, step, seek, analyse, cancel, reopen, live
mode, bad files, export. The model is a colour-blob stand-in (exact boxes, no torch work)."""

from __future__ import annotations


import cv2
import pytest

from engine.demo.shapes_video import write_shapes_video
from tests.engine.video_helpers import iou


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    truth = write_shapes_video(path, frames=30)
    return path, truth


def open_video(qtbot, make_window, path, size=(1280, 800)):
    window = make_window([path], size=size)
    panel = window.video_panel
    qtbot.waitUntil(lambda: panel.video.current == 0, timeout=10_000)
    return window, panel


def test_open_play_step_seek(qtbot, make_window, clip, blob_model):
    window, panel = open_video(qtbot, make_window, clip[0])
    video, player = panel.video, panel.player
    assert video.frame_count == 30 and "frame 1 / 30" in player.position.text()
    qtbot.keyClick(window.canvas, ".")
    qtbot.waitUntil(lambda: video.current == 1)
    assert "frame 2 / 30" in player.position.text()
    qtbot.keyClick(window.canvas, ",")
    qtbot.waitUntil(lambda: video.current == 0)
    player.slider.setValue(17)
    qtbot.waitUntil(lambda: video.current == 17)
    assert "frame 18 / 30" in player.position.text()
    qtbot.keyClick(window.canvas, Qt_key("End"))
    qtbot.waitUntil(lambda: video.current == 29)
    qtbot.keyClick(window.canvas, Qt_key("Home"))
    qtbot.waitUntil(lambda: video.current == 0)
    qtbot.keyClick(window.canvas, Qt_key("Space"))
    assert video.playing
    qtbot.waitUntil(lambda: not video.playing, timeout=5000)  # 1.2 s clip plays to its end
    assert video.current == 29 and video.shown_reads > 10


def Qt_key(name):
    from PySide6.QtCore import Qt

    return getattr(Qt.Key, f"Key_{name}")


def test_analyse_stride_timeline_review_and_reopen(qtbot, make_window, clip, blob_model, sightline_home):
    path, truth = clip
    window, panel = open_video(qtbot, make_window, path)
    video = panel.video
    panel.player.stride.setValue(5)
    assert panel.analyse()
    qtbot.waitUntil(lambda: not video.analysing, timeout=20_000)
    assert sorted(video.analysed) == [0, 5, 10, 15, 20, 25]
    assert sorted(window.store.frames(str(path), window.controller.model)) == [0, 5, 10, 15, 20, 25]
    qtbot.waitUntil(lambda: sorted(panel.player.timeline.counts) == [0, 5, 10, 15, 20, 25])
    video.seek(10)
    qtbot.waitUntil(lambda: window.controller.review is not None and video.current == 10)
    c = window.controller
    shown = c.review.detections.boxes[c.visible()]
    for _label, box in truth[10]:
        assert max(iou(box, s) for s in shown) > 0.8
    assert window.canvas.shown_indices()  # overlays drawn on the canvas
    # the same review tools as images: accept, stored per frame
    c.select(int(c.visible()[0]))
    window.actions_["accept"].trigger()
    stored = window.store.load_result(str(path), c.model, 10)
    assert stored.decisions
    video.seek(11)  # a frame with no result: analysed when the player stops on it, like an image
    qtbot.waitUntil(lambda: video.current == 11 and c.review is not None and c.review.frame == 11, timeout=10_000)
    assert not c.review.decisions
    window.close()
    window2 = make_window([path], store=None)
    qtbot.waitUntil(lambda: sorted(window2.video_panel.video.analysed) == [0, 5, 10, 11, 15, 20, 25],
                    timeout=10_000)
    window2.video_panel.video.seek(10)
    qtbot.waitUntil(lambda: window2.controller.review is not None and bool(window2.controller.review.decisions))


def test_cancel_keeps_finished_frames(qtbot, make_window, tmp_path, blob_model):
    path = tmp_path / "long.mp4"
    write_shapes_video(path, frames=60)
    blob_model.delay = 0.1
    window, panel = open_video(qtbot, make_window, path)
    panel.player.stride.setValue(1)
    assert panel.analyse()
    qtbot.waitUntil(lambda: len(panel.video.analysed) >= 3, timeout=10_000)
    window.actions_["cancel_all"].trigger()
    qtbot.waitUntil(lambda: not panel.video.analysing, timeout=10_000)
    kept = window.store.frames(str(path), window.controller.model)
    assert 3 <= len(kept) < 60 and kept == list(range(len(kept)))
    assert "Cancelled" in window.statusBar().currentMessage()


def test_live_mode_drops_frames_and_stays_responsive(qtbot, make_window, tmp_path, blob_model, gap_meter):
    path = tmp_path / "live.mp4"
    write_shapes_video(path, frames=75)
    blob_model.delay = 0.2  # a slow model: 5 analyses/s against 25 frames/s
    window, panel = open_video(qtbot, make_window, path)
    panel.player.live.setChecked(True)
    analyser = panel.video.analyser
    assert analyser is not None
    with gap_meter() as meter:
        panel.video.play()
        qtbot.waitUntil(lambda: not panel.video.playing, timeout=10_000)
    stats = analyser.stats
    assert stats.dropped > 0 and stats.analysed >= 3
    assert meter.max_gap < 0.25, meter.max_gap
    assert "Analysis rate" in panel.player.live_rate.text()
    panel.player.live.setChecked(False)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=5000)  # the device is free for images again


def test_bad_mp4_names_the_file(qtbot, make_window, tmp_path, blob_model, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    bad = tmp_path / "holiday.mp4"
    bad.write_text("this is a text file, not a video\n" * 20)
    make_window([bad])
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert "holiday.mp4" in shown[0] and "not a video" in shown[0]


def test_export_annotated_video(qtbot, make_window, clip, blob_model, tmp_path):
    path, _ = clip
    window, panel = open_video(qtbot, make_window, path)
    panel.player.stride.setValue(5)
    panel.analyse()
    qtbot.waitUntil(lambda: not panel.video.analysing, timeout=20_000)
    for name in ("out.mp4", "out.json", "out.csv"):
        panel.export(str(tmp_path / name))
        qtbot.waitUntil(lambda: panel.export_task is None, timeout=20_000)
        assert (tmp_path / name).exists()
        if name == "out.mp4":
            assert "30 frames" in panel.last_export_note
    assert "6 frames" in panel.last_export_note  # CSV: one entry set per analysed frame
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    cap.release()


def test_a_video_left_before_it_opened_never_shows(qtbot, make_window, clip, blob_model, tmp_path):
    """The user opens one video, then another before the first has opened: only the second
    is shown (the generation guard on opening)."""
    other = tmp_path / "other.mp4"
    write_shapes_video(other, frames=12)
    window, panel = open_video(qtbot, make_window, clip[0])
    video = panel.video
    opened = []
    video.opened.connect(lambda info: opened.append(video.path if info is not None else None))
    video.open(str(clip[0]))
    video.open(str(other))  # before the first open has come back
    qtbot.waitUntil(lambda: video.path == str(other) and video.current == 0, timeout=10_000)
    qtbot.waitUntil(lambda: not window.pool.busy, timeout=10_000)
    assert [p for p in opened if p is not None] == [str(other)]
    assert video.frame_count == 12
