"""Label tags stay readable: inside the image and never one over another where there is room,
in the placement function and in the annotated images drawn with it."""

from __future__ import annotations

import numpy as np

from engine.draw import OverlayStyle, class_colour, draw_detections, label_layout
from engine.label_placement import place_labels
from engine.types import Detections


def _overlaps(a, b) -> bool:
    return (min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) + 1e-6
            and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1]) + 1e-6)


def _inside(rect, width, height) -> bool:
    x, y, w, h = rect
    return x >= 0 and y >= 0 and x + w <= width + 1e-6 and y + h <= height + 1e-6


def test_labels_of_nested_boxes_at_the_corner_neither_overlap_nor_leave_the_image():
    boxes = [(520, 0, 640, 90), (530, 5, 630, 85), (0, 300, 60, 480), (600, 440, 640, 480)]
    sizes = [(110, 18), (100, 18), (90, 18), (100, 18)]
    corners = place_labels(boxes, sizes, (640, 480))
    rects = [(x, y, w, h) for (x, y), (w, h) in zip(corners, sizes)]
    assert all(_inside(r, 640, 480) for r in rects)
    assert not any(_overlaps(a, b) for n, a in enumerate(rects) for b in rects[n + 1:])


def test_a_label_keeps_its_usual_place_above_its_box_when_that_is_free():
    assert place_labels([(100, 100, 200, 200)], [(60, 16)], (640, 480)) == [(100, 84)]


def test_the_first_in_order_gets_the_spot_above_the_box():
    boxes = [(100, 100, 200, 200), (102, 102, 198, 198)]
    corners = place_labels(boxes, [(60, 16), (60, 16)], (640, 480), order=[1, 0])
    assert corners[1] == (102, 86)
    assert not _overlaps((*corners[0], 60, 16), (*corners[1], 60, 16))


def _two_on_one_spot() -> Detections:
    """A circle 0.99 and a square 0.63 on the same spot at the image's top-right corner."""
    boxes = np.array([[560, 0, 640, 70], [565, 2, 638, 68]], np.float32)
    return Detections((480, 640), boxes, np.array([0.63, 0.99], np.float32), np.array([2, 1], np.int64),
                      ("__background__", "circle", "square"))


def test_annotated_images_draw_every_label_whole_and_apart():
    det = _two_on_one_spot()
    image = np.zeros((480, 640, 3), np.uint8)
    style = OverlayStyle(masks=False, boxes=False, keypoints=False)
    out = draw_detections(image, det, style)
    texts = [f"{name} {score:.2f}" for name, score in zip(det.names, det.scores)]
    rects = label_layout(image.shape, det.boxes, texts)
    assert all(_inside(r, 640, 480) for r in rects) and not _overlaps(*rects)
    for i, (_x, _y, w, h) in enumerate(rects):  # each tag's fill is there, whole: not covered, not cut
        colour = class_colour(int(det.labels[i]))
        filled = np.all(out == colour, axis=2).sum()
        assert filled > 0.5 * w * h, (texts[i], filled, w * h)
