"""Export building blocks: what is kept, relabels, and never overwriting the user's images."""

from __future__ import annotations

import numpy as np
import pytest

from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore
from engine.types import Detections
from engine.review.exporting import (COCO, IMAGES, INCLUDE_ACCEPTED, INCLUDE_ALL, INCLUDE_NOT_REJECTED,
                                  ExportError, ExportRequest, annotated_name, export_results, reviewed_item)

NAMES = ("__background__", "circle", "square", "triangle")


def stored_result(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"x")
    det = Detections((50, 60), np.array([[1, 1, 10, 10], [2, 2, 20, 20], [3, 3, 30, 30], [4, 4, 9, 9]], np.float32),
                     np.array([0.9, 0.8, 0.6, 0.1], np.float32), np.array([1, 2, 3, 1], np.int64), NAMES)
    store = ReviewStore(tmp_path / "s.sqlite3")
    rid = store.save_result(image, "demo-shapes", det)
    store.set_decision(rid, 0, Decision(ACCEPTED))
    store.set_decision(rid, 1, Decision(REJECTED))
    store.set_decision(rid, 2, Decision(RELABELLED, 1))
    return store, image


@pytest.mark.parametrize("include, expected", [(INCLUDE_ALL, [0, 1, 2]), (INCLUDE_NOT_REJECTED, [0, 2]),
                                               (INCLUDE_ACCEPTED, [0, 2])])
def test_what_is_kept(tmp_path, include, expected):
    store, image = stored_result(tmp_path)
    request = ExportRequest(COCO, tmp_path / "o.json", [str(image)], "demo-shapes", min_score=0.5, include=include)
    item = reviewed_item(store.load_result(image, "demo-shapes"), request)
    assert [e["detection_index"] for e in item.annotation_extras] == expected
    store.close()


def test_relabels_change_the_class_and_keep_the_original(tmp_path):
    store, image = stored_result(tmp_path)
    request = ExportRequest(COCO, tmp_path / "o.json", [str(image)], "demo-shapes",
                            hidden_classes=frozenset({"square"}))
    item = reviewed_item(store.load_result(image, "demo-shapes"), request)
    kept = [e["detection_index"] for e in item.annotation_extras]
    assert kept == [0, 2, 3]  # the square (index 1) is hidden, the relabelled triangle is now a circle
    assert item.detections.labels.tolist() == [1, 1, 1]
    assert item.annotation_extras[1] == {"review_state": RELABELLED, "detection_index": 2, "original_category_id": 3}
    store.close()


def test_export_refuses_to_write_over_an_input_image(tmp_path):
    store, image = stored_result(tmp_path)
    with pytest.raises(ExportError):
        export_results(ExportRequest(COCO, image, [str(image)], "demo-shapes"), store)
    assert image.read_bytes() == b"x"
    store.close()


def test_annotated_names_avoid_inputs_and_each_other(tmp_path):
    inputs = {str((tmp_path / "a.annotated.png").resolve())}
    used: set[str] = set()
    first = annotated_name(str(tmp_path / "a.png"), tmp_path, used, inputs)
    second = annotated_name(str(tmp_path / "sub" / "a.jpg"), tmp_path, used, inputs)
    assert first.name == "a.annotated-2.png" and second.name == "a.annotated-3.png"


def test_images_export_counts_unanalysed(tmp_path):
    store, image = stored_result(tmp_path)
    other = tmp_path / "b.png"
    other.write_bytes(b"y")
    report = export_results(ExportRequest(IMAGES, tmp_path / "out", [str(image), str(other)], "demo-shapes"), store)
    assert report.not_analysed == 1 and report.failed == 1  # a.png is not a real image: it cannot be drawn on
    store.close()
