"""The canvas pieces: image pyramid, overlay items, picking, zoom."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from engine.store import ACCEPTED, REJECTED, Decision
from engine.types import CroppedMask, Detections
from engine.review import ReviewRecord, ViewFilter
from gui.viewer.canvas import Canvas
from gui.viewer.image_item import ImageItem, Pyramid
from engine.draw import OverlayStyle
from gui.viewer.overlays import DetectionItem

NAMES = ("__background__", "circle", "square", "triangle")


def review_of(height=200, width=300) -> ReviewRecord:
    big = np.zeros((80, 80), bool)
    big[10:70, 10:70] = True
    small = np.ones((20, 20), bool)
    det = Detections(
        (height, width), np.array([[20, 20, 100, 100], [50, 50, 70, 70]], np.float32),
        np.array([0.9, 0.7], np.float32), np.array([1, 2], np.int64), NAMES,
        masks=(CroppedMask(20, 20, big), CroppedMask(50, 50, small)),
        keypoints=np.array([[[30, 30, 1], [90, 90, 1]], [[55, 55, 1], [65, 65, 0]]], np.float32),
        keypoint_names=("a", "b"), skeleton=((0, 1),))
    return ReviewRecord("/x.png", "demo-shapes", 1, det)


def test_pyramid_halves_down_to_screen_sizes():
    pyramid = Pyramid(np.zeros((6000, 8000, 3), np.uint8))
    sizes = [(img.height(), img.width()) for img in pyramid.images]
    assert sizes[0] == (6000, 8000) and sizes[1] == (3000, 4000)
    assert max(sizes[-1]) <= 768 * 1.5 and len(pyramid) >= 4
    item = ImageItem(pyramid)
    assert item.level_for(2.0) == 0 and item.level_for(1.0) == 0
    assert item.level_for(0.5) == 1 and item.level_for(0.26) == 1 and item.level_for(0.25) == 2
    assert item.level_for(0.001) == len(pyramid) - 1


def test_pyramid_keeps_the_colours():
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[..., 0] = 200  # red
    image = Pyramid(rgb).images[0]
    colour = image.pixelColor(3, 3)
    assert (colour.red(), colour.green(), colour.blue()) == (200, 0, 0)


def test_image_item_paints_only_the_exposed_part(qapp):
    pyramid = Pyramid(np.full((400, 600, 3), 90, np.uint8))
    item = ImageItem(pyramid)
    target = QImage(300, 200, QImage.Format.Format_RGB32)
    target.fill(0)
    painter = QPainter(target)
    painter.scale(0.5, 0.5)
    option = QStyleOptionGraphicsItem()
    option.exposedRect = QRectF(0, 0, 300, 400)
    item.paint(painter, option)
    painter.end()
    assert target.pixelColor(10, 10).red() == 90  # painted inside the exposed part
    assert target.pixelColor(250, 10).red() == 0  # left alone outside it


def test_detection_item_hit_testing_uses_the_mask():
    review = review_of()
    det = review.detections
    item = DetectionItem(0, det.boxes[0], det.masks[0], det.keypoints[0], det.skeleton)
    assert item.contains_point(50, 50)
    assert not item.contains_point(22, 22)  # inside the box, outside the mask
    assert not item.contains_point(150, 150)


def test_canvas_shows_filters_and_picks(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    review = review_of()
    canvas.show_image(Pyramid(np.zeros((200, 300, 3), np.uint8)))
    canvas.show_review(review, ViewFilter(min_score=0.5).visible(review), -1, OverlayStyle())
    assert canvas.shown_indices() == [0, 1]
    assert canvas.detection_at(QPointF(60, 60)) == 1  # smallest box wins where masks overlap
    assert canvas.detection_at(QPointF(30, 80)) == 0
    assert canvas.detection_at(QPointF(250, 150)) == -1
    items_before = canvas.item(0), canvas.item(1)
    canvas.show_review(review, ViewFilter(min_score=0.8).visible(review), 0, OverlayStyle(masks=False))
    assert canvas.shown_indices() == [0]
    assert (canvas.item(0), canvas.item(1)) == items_before  # re-filtered, not rebuilt
    assert canvas.item(0).selected and not canvas.item(0).options.masks


def test_rejected_style_and_labels(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    review = review_of()
    review.decisions = {0: Decision(ACCEPTED), 1: Decision(REJECTED)}
    canvas.show_image(Pyramid(np.zeros((200, 300, 3), np.uint8)))
    canvas.show_review(review, ViewFilter(min_score=0.0, show_rejected=True).visible(review), -1, OverlayStyle())
    assert canvas.item(1).state == REJECTED and canvas.item(1).label.struck
    assert canvas.item(0).label.text.startswith("✓ circle")
    assert ViewFilter(min_score=0.0).visible(review).tolist() == [0]
    canvas.grab()  # paints every item without error


def test_zoom_fit_and_actual_size(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    canvas.show_image(Pyramid(np.zeros((1200, 1600, 3), np.uint8)))
    assert 0.2 < canvas.current_scale() < 0.3
    canvas.actual_size()
    assert canvas.current_scale() == 1.0
    canvas.zoom_by(2.0)
    assert canvas.current_scale() == 2.0
    canvas.fit()
    assert canvas.current_scale() < 0.3
