"""Segmenter training data from the review store: accepted and relabelled masks only."""

import cv2
import numpy as np
import pytest

from engine.segment.data import IGNORE, DataError
from engine.segment.review_source import load_review
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore
from engine.types import CroppedMask, Detections

NAMES = ("__background__", "circle", "square", "triangle")


def _detections(masks, labels, scores):
    full = [np.zeros((30, 40), bool) for _ in masks]
    for mask, (y0, y1, x0, x1) in zip(full, masks):
        mask[y0:y1, x0:x1] = True
    boxes = np.array([[x0, y0, x1, y1] for y0, y1, x0, x1 in masks], np.float32)
    return Detections((30, 40), boxes, np.array(scores, np.float32), np.array(labels, np.int64), NAMES,
                      masks=tuple(CroppedMask.from_full(m) for m in full))


def test_accepted_and_relabelled_masks_are_painted(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((30, 40, 3), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((30, 40, 3), np.uint8))  # analysed, nothing accepted
    store = ReviewStore(tmp_path / "review.sqlite3")
    det = _detections([(0, 5, 0, 5), (10, 15, 0, 5), (20, 25, 0, 5), (0, 5, 30, 35), (10, 15, 30, 35)],
                      [1, 2, 3, 1, 2], [0.9, 0.9, 0.9, 0.9, 0.1])
    rid = store.save_result(folder / "a.png", "demo-shapes", det)
    store.set_decision(rid, 0, Decision(ACCEPTED))
    store.set_decision(rid, 1, Decision(RELABELLED, 3))
    store.set_decision(rid, 2, Decision(REJECTED))
    other = store.save_result(folder / "b.png", "demo-shapes", det)
    store.set_decision(other, 0, Decision(REJECTED))
    data = load_review(folder, image_size=64, store=store)
    assert data.class_names == ("background", "circle", "triangle")  # only classes someone accepted
    (sample,) = data.samples
    target = sample.target
    assert target[2, 2] == 1  # accepted circle
    assert target[12, 2] == 2  # square relabelled to triangle
    assert target[22, 2] == 0  # rejected: background
    assert target[2, 32] == IGNORE  # undecided and confident: unknown
    assert target[12, 32] == 0  # undecided and weak: background
    store.close()


def test_nothing_reviewed_says_so(tmp_path):
    store = ReviewStore(tmp_path / "review.sqlite3")
    with pytest.raises(DataError, match="no image or video frame here has accepted masks"):
        load_review(tmp_path, store=store)
    store.close()
