"""The rough edges of reviewing images, on the real window (issue 9, Images): huge images at
the model's working size, readable labels, replace-or-add and Clear list, the selection after
a decision, and where exports go."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from engine.demo.scenes import make_scene
from engine.review.exporting import COCO, IMAGES
from engine.store import ACCEPTED, REJECTED
from engine.types import CroppedMask, Detections
from tests.gui.conftest import FakeDetector
from tests.gui.helpers import key, wait_for_review


class CornerDetector(FakeDetector):
    """Two detections at the image's top-right corner (a circle 0.99 inside a square 0.63) and
    one in the middle: labels that would hide each other, leave the image, or lie under a mask."""

    def predict(self, images):
        out = []
        for image in images:
            height, width = image.shape[:2]
            boxes = np.array([[width - 120, 0, width, 120], [width - 66, 2, width - 2, 58],
                              [width / 2 - 20, height / 2 - 20, width / 2 + 20, height / 2 + 20]], np.float32)
            masks = tuple(CroppedMask(int(x1), int(y1), np.ones((int(y2 - y1), int(x2 - x1)), bool))
                          for x1, y1, x2, y2 in boxes)
            out.append(Detections((height, width), boxes, np.array([0.63, 0.99, 0.8], np.float32),
                                  np.array([2, 1, 3], np.int64), self.class_names, masks=masks,
                                  model_name="demo-shapes"))
        return out


@pytest.fixture
def fake_model():  # replaces the conftest's: make_window hands this one to the scheduler
    return CornerDetector(delay=0.01)


def _screen_rect(canvas, item) -> QRectF:
    """Where a label tag is on screen (it keeps its size at any zoom)."""
    label = item.label
    corner = canvas.mapFromScene(label.scenePos())
    return QRectF(corner.x(), corner.y(), label.boundingRect().width(), label.boundingRect().height())


@pytest.mark.parametrize("zoom", [1.0, 3.0])
def test_labels_on_the_canvas_stay_inside_the_image_and_apart(qtbot, make_window, scenes, fake_model, zoom):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    canvas = window.canvas
    window.filter_panel.set_min_score(0.5)
    if zoom != 1.0:
        canvas.zoom_by(zoom)
    image = canvas.mapFromScene(QRectF(0, 0, *reversed(canvas.image_size()))).boundingRect()
    rects = [_screen_rect(canvas, canvas.item(i)) for i in canvas.shown_indices()]
    assert len(rects) == 3
    if zoom == 1.0:  # the whole image is in view: every tag inside it
        assert all(QRectF(image).adjusted(-1, -1, 1, 1).contains(r) for r in rects), (image, rects)
    assert not any(a.intersects(b) for n, a in enumerate(rects) for b in rects[n + 1:]), rects


def test_no_detection_is_drawn_over_a_label(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    canvas = window.canvas
    window.filter_panel.set_min_score(0.5)
    window.controller.select(0)  # the square 0.63, selected, is drawn over the circle 0.99 in its box
    canvas.zoom_by(2.0)
    canvas.centerOn(canvas.item(1).box.center())
    qtbot.waitUntil(lambda: canvas.viewport().isVisible())
    shot = canvas.viewport().grab().toImage()
    for index in canvas.shown_indices():
        label = canvas.item(index).label
        rect = _screen_rect(canvas, canvas.item(index))
        if not QRectF(canvas.viewport().rect()).contains(rect):
            continue
        pixel = shot.pixelColor(int(rect.left() + 2), int(rect.center().y()))  # the tag's padding
        assert abs(pixel.red() - label.colour.red()) + abs(pixel.green() - label.colour.green()) \
            + abs(pixel.blue() - label.colour.blue()) < 30, (index, label.text, pixel.name(), label.colour.name())


def test_after_reject_the_next_pending_detection_is_selected(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    c = window.controller
    window.filter_panel.set_min_score(0.5)
    assert c.visible().tolist() == [0, 1, 2]
    c.select(0)
    key(qtbot, window, Qt.Key.Key_R)  # rejected ones are hidden: #1 leaves the view
    assert c.review.state(0) == REJECTED and c.selected == 1
    key(qtbot, window, Qt.Key.Key_R)  # so the next key acts on the next pending one
    assert c.review.state(1) == REJECTED and c.selected == 2
    key(qtbot, window, Qt.Key.Key_A)
    assert c.review.state(2) == ACCEPTED and c.selected == 2  # nothing pending left: stays on it
    for _ in range(2):  # undo the accept and the second reject: #2 and #3 pending again
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    c.select(2)
    key(qtbot, window, Qt.Key.Key_R)  # the last one: on to the first pending before it
    assert c.review.state(2) == REJECTED and c.selected == 1


def test_a_huge_image_is_analysed_at_the_working_size_and_the_status_bar_says_so(qtbot, make_window, tmp_path):
    scene = make_scene(197)  # 620x465, four shapes
    path = tmp_path / "huge.jpg"
    big = cv2.resize(scene.image, (4000, 3000), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), big[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    window = make_window([path])  # the real demo model
    review = wait_for_review(qtbot, window, path)
    assert not review.failure and review.detections.image_size == (3000, 4000)
    label = window.status.scale_label
    assert label.isVisible() and label.text() == "Analysed at 640x480 of 4000x3000"
    sx, sy = 4000 / scene.image.shape[1], 3000 / scene.image.shape[0]
    kept = review.detections.boxes[review.detections.scores >= 0.5]
    for shape in scene.shapes:  # boxes in the photo's own pixels, on the shapes
        truth = shape.box * [sx, sy, sx, sy]
        assert np.abs(kept - truth).max(axis=1).min() < 0.1 * (truth[2] - truth[0]), (truth, kept)


def _answer_next_box(answer: str, seen: list) -> None:
    """Answer the next message box when it opens: a button's text, or "Enter" for its default."""
    def check():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, check)
            return
        seen.append(box.text())
        if answer == "Enter":
            QTest.keyClick(box, Qt.Key.Key_Return)
        else:
            next(b for b in box.buttons() if b.text().replace("&", "") == answer).click()

    QTimer.singleShot(0, check)


def test_opening_a_folder_asks_replace_or_add_and_the_list_can_be_cleared(qtbot, make_window, scenes, fake_model,
                                                                          tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    (other / "more.png").write_bytes(scenes[2].read_bytes())
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kw: str(other))
    window = make_window(scenes[:2])
    wait_for_review(qtbot, window)
    listed = lambda: sorted(os.path.basename(p) for p in window.images.paths())  # noqa: E731
    seen = []
    _answer_next_box("Enter", seen)  # the default: replace
    window.actions_["open_folder"].trigger()
    qtbot.waitUntil(lambda: listed() == ["more.png"])
    assert "2 images are listed" in seen[0]
    wait_for_review(qtbot, window, other / "more.png")
    _answer_next_box("Add to list", seen)
    window.actions_["open_folder"].trigger()  # the same folder again: nothing new
    window.add_paths([str(scenes[0])])  # (a drop adds without asking)
    qtbot.waitUntil(lambda: listed() == ["more.png", scenes[0].name])
    _answer_next_box("Cancel", seen)
    window.actions_["open_folder"].trigger()
    assert len(seen) == 3 and listed() == ["more.png", scenes[0].name]

    assert "Clear list" in [a.text().replace("&", "") for a in window.menu("File").actions()]
    window.actions_["clear_list"].trigger()
    assert len(window.images) == 0 and window.controller.review is None and not window.canvas.has_image
    assert window.images_header.text() == "No images" and window.windowTitle() == "Sightline"
    window.actions_["open_folder"].trigger()  # an empty list: no question
    qtbot.waitUntil(lambda: listed() == ["more.png"])
    assert len(seen) == 3


def _export(qtbot, window, request) -> None:
    window.io.last_export = None
    window.io.start_export(request)
    qtbot.waitUntil(lambda: window.io.last_export is not None, timeout=30_000)


def test_exports_start_in_the_last_export_folder_never_inside_an_earlier_export(qtbot, make_window, scenes,
                                                                                fake_model, tmp_path):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    dialog = window.io.export_dialog()
    assert Path(dialog.destination.text()) == scenes[0].parent / "detections.json"  # first time: the images' folder
    out = tmp_path / "export"
    dialog.set_kind(IMAGES)
    dialog.destination.setText(str(out / "annotated"))
    _export(qtbot, window, dialog.request())
    assert [f.name for f in (out / "annotated").iterdir()] == [scenes[0].stem + ".annotated.png"]
    dialog = window.io.export_dialog()  # next: beside the annotated images, not inside them
    assert Path(dialog.destination.text()) == out / "detections.json"
    dialog.set_kind(IMAGES)
    assert Path(dialog.destination.text()) == out / "annotated"
    dialog.set_kind(COCO)
    dialog.destination.setText(str(out / "annotated" / "detections.json"))  # chosen by hand, inside: allowed
    _export(qtbot, window, dialog.request())
    window.close()
    again = make_window(scenes[:1])  # remembered across restarts, still outside the annotated folder
    assert Path(again.io.export_dialog().destination.text()) == out / "detections.json"
