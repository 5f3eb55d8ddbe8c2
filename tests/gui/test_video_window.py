"""Video in the review window as a user meets it (issue 9): live results drawn on the canvas on
the frame they belong to, a Video dock that live mode never widens, View ▸ Reset layout, a
video that shows and analyses its first frame when it opens, and classifier labels on video
frames. The detector is the colour-blob stand-in (exact boxes, no torch work)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget

from engine.demo.shapes_video import write_shapes_video
from tests.engine.video_helpers import BlobDetector, iou
from tests.gui.test_classifier_in_window import pick, wait_for_labels
from tests.gui.test_video_player import open_video


def canvas_rgb(window) -> np.ndarray:
    """The pixels the canvas shows (its image item's full-size level)."""
    return cv2.cvtColor(window.canvas._image.pyramid.arrays[0], cv2.COLOR_BGRA2RGB)


def test_live_results_are_drawn_on_the_canvas_on_their_own_frame(qtbot, make_window, tmp_path, blob_model):
    path = tmp_path / "live.mp4"
    truth = write_shapes_video(path, frames=50)
    blob_model.delay = 0.1  # 10 analyses/s against 25 frames/s: frames are skipped
    window, panel = open_video(qtbot, make_window, path)
    video, c = panel.video, window.controller
    seen = []  # (frame, boxes on the canvas, boxes found again in the canvas's pixels) at each draw while playing

    def drawn(frame: int) -> None:
        if video.playing:
            review = c.review
            boxes = review.detections.boxes[c.visible()] if review is not None and review.frame == frame else None
            seen.append((frame, boxes, BlobDetector()._detect(canvas_rgb(window)).boxes, window.canvas.shown_indices()))

    video.frame_shown.connect(drawn)
    panel.player.live.setChecked(True)
    video.play()
    qtbot.waitUntil(lambda: not video.playing, timeout=10_000)
    assert len(seen) >= 3 and video.analyser.stats.dropped > 0
    for frame, boxes, in_pixels, shown in seen:
        assert boxes is not None and len(boxes) == len(truth[frame]) and shown, f"frame {frame} drawn bare"
        for _label, box in truth[frame]:  # the overlay belongs to the frame under it
            assert max(iou(box, b) for b in boxes) > 0.8 and max(iou(box, b) for b in in_pixels) > 0.8
    # paused at the end: the last frame with its result, reviewable (stored, with an id)
    qtbot.waitUntil(lambda: c.review is not None and c.review.frame == video.current == 49
                    and c.review.result_id is not None, timeout=10_000)
    assert window.status.inference_label.text() != "Last inference: none yet"
    panel.player.live.setChecked(False)
    assert panel.player.live_rate.text() == "Analysis rate: —"


def test_live_mode_never_widens_the_video_panel(qtbot, make_window, tmp_path, blob_model, sightline_home):
    path = tmp_path / "a-video-with-a-rather-long-file-name-from-a-camera-0001.mp4"
    write_shapes_video(path, frames=40, width=640, height=360)
    blob_model.delay = 0.05
    window, panel = open_video(qtbot, make_window, path, size=(1024, 700))
    dock, canvas = panel.dock, window.canvas
    before = (dock.width(), canvas.width())
    panel.player.live.setChecked(True)
    panel.video.play()
    qtbot.waitUntil(lambda: panel.video.analyser.stats.analysed >= 3, timeout=10_000)
    qtbot.waitUntil(lambda: not panel.video.playing, timeout=10_000)
    assert (dock.width(), canvas.width()) == before
    assert canvas.width() >= 400  # at 1024x700 the picture keeps most of the window (no panel widened by a name)
    window.close()  # the state saved at quit is the one a restart gets
    again = make_window(size=(1024, 700))
    assert again.video_panel.dock.width() == before[0]


def test_reset_layout_restores_the_default_docks_now_and_at_the_next_start(qtbot, make_window, sightline_home):
    window = make_window(size=(1280, 800))
    images = window.findChild(QDockWidget, "imagesDock")
    qtbot.waitUntil(lambda: abs(images.width() - 260) <= 2)  # a first start's width
    default = images.width()
    window.resizeDocks([images], [520], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: images.width() > default + 100)
    window.close()
    again = make_window(size=(1280, 800))
    images = again.findChild(QDockWidget, "imagesDock")
    qtbot.waitUntil(lambda: images.width() > default + 100)  # a widened panel is kept across restarts
    reset = again.findChild(QAction, "reset_layout")
    assert reset in again.menu("View").actions()
    reset.trigger()
    qtbot.waitUntil(lambda: abs(images.width() - default) <= 2)
    assert again.settings.value("window_state") is None  # a start after a crash is the default too
    again.close()
    third = make_window(size=(1280, 800))
    qtbot.waitUntil(lambda: abs(third.findChild(QDockWidget, "imagesDock").width() - default) <= 2)


def test_opening_a_video_shows_and_analyses_its_first_frame(qtbot, make_window, scenes, tmp_path, blob_model):
    long_clip, short_clip = tmp_path / "long.mp4", tmp_path / "short.mp4"
    write_shapes_video(long_clip, frames=50)
    truth = write_shapes_video(short_clip, frames=20, width=400, height=300)
    window = make_window([scenes[0]])
    c, panel, status = window.controller, window.video_panel, window.status
    qtbot.waitUntil(lambda: c.review is not None and c.review.path == str(scenes[0]), timeout=10_000)
    panel.add_videos([str(long_clip)])  # as File ▸ Open video… does
    assert not window.canvas.has_image and c.review is None  # the image is gone at once
    qtbot.waitUntil(lambda: panel.video.current == 0 and window.canvas.image_size() == (240, 320), timeout=10_000)
    player = panel.player
    player.range_start.setValue(0.4)
    player.range_end.setValue(1.2)
    panel.video.play()  # a video playing (reads in flight) when the next one is opened
    status.inference_label.setText("Last inference: none yet")
    panel.add_videos([str(short_clip)])
    qtbot.waitUntil(lambda: panel.video.path == str(short_clip) and window.canvas.image_size() == (300, 400),
                    timeout=10_000)
    assert (player.range_start.value(), player.range_end.value()) == (0.0, 0.8)  # the new video's range
    # its first frame is analysed, as an opened image is, and shown with its result
    qtbot.waitUntil(lambda: c.review is not None and c.review.frame == 0 and c.review.path == str(short_clip),
                    timeout=10_000)
    shown = c.review.detections.boxes[c.visible()]
    for _label, box in truth[0]:
        assert max(iou(box, s) for s in shown) > 0.8
    assert window.canvas.shown_indices()
    assert status.inference_label.text() != "Last inference: none yet"
    assert 0 in panel.video.analysed
    panel.video.seek(7)  # a frame the player stops on is analysed too
    qtbot.waitUntil(lambda: c.review is not None and c.review.frame == 7, timeout=10_000)


def untrained_classifier():
    """A classifier file with random weights (labels, not good ones: enough to see them come)."""
    import torch

    from engine.train import checkpoint as C
    from engine.train import strategies as S
    from engine.weights import user_models_dir

    torch.manual_seed(0)
    model = S.build_model("resnet18", 3, pretrained=False)
    made = C.make_checkpoint(model, "resnet18", ("Circle", "SQUARE", "triangle"), 32, (0.485, 0.456, 0.406),
                             (0.229, 0.224, 0.225), "scratch", {}, "shapes")
    return C.save_classifier(made, user_models_dir() / "shapes.pt")


def test_the_classifier_labels_video_frames(qtbot, make_window, tmp_path, blob_model):
    classifier = untrained_classifier()
    path = tmp_path / "clip.mp4"
    write_shapes_video(path, frames=10)
    window, panel = open_video(qtbot, make_window, path)
    c = window.controller
    qtbot.waitUntil(lambda: c.review is not None and c.review.frame == 0 and c.review.result_id is not None,
                    timeout=10_000)
    pick(qtbot, window, classifier)
    texts = wait_for_labels(qtbot, window)  # (it said "failed": the video was opened as an image)
    view = window.classifier.view(c.review)
    assert view.predictions is not None and len(view.predictions) == len(c.review.detections)
    assert all(t.split()[0] in ("Circle", "SQUARE", "triangle") for t in texts)


def test_leaving_live_mode_paused_shows_where_playback_stopped_and_an_image_keeps_the_canvas(
        qtbot, make_window, scenes, tmp_path, blob_model):
    path = tmp_path / "clip.mp4"
    write_shapes_video(path, frames=75)
    blob_model.delay = 0.3  # slow: the canvas is several frames behind the playback position
    window = make_window([scenes[0], path])
    c, panel = window.controller, window.video_panel
    video = panel.video
    qtbot.waitUntil(lambda: video.current == 0, timeout=10_000)
    panel.player.live.setChecked(True)
    video.play()
    qtbot.waitUntil(lambda: video.analyser.stats.analysed >= 2 and video.current > 0, timeout=10_000)
    video.pause()
    panel.player.live.setChecked(False)
    qtbot.waitUntil(lambda: video.current == video._position and c.review is not None
                    and c.review.frame == video.current, timeout=10_000)  # that frame, analysed
    panel.player.live.setChecked(True)
    video.play()
    qtbot.waitUntil(lambda: video.analyser.stats.analysed >= 2, timeout=10_000)
    video.pause()
    window.image_list.setCurrentIndex(window.images.index(0))  # the user clicks the image
    qtbot.waitUntil(lambda: c.review is not None and c.review.path == str(scenes[0]), timeout=10_000)
    qtbot.waitUntil(lambda: not window.pool.busy and not window.jobs.busy, timeout=10_000)
    assert c.review.path == str(scenes[0]) and c.current_row == 0 and not panel.active
    assert window.canvas.image_size() == tuple(c.review.detections.image_size)
