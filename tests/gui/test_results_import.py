"""File > Import results…: a COCO results file (e.g. from a cluster run) is reviewed in the
window without running the model."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QFileDialog

from engine.export import ExportItem, write_coco
from engine.models import get_spec
from engine.types import CroppedMask, Detections
from gui.review.image_list import DONE

SPEC = get_spec("demo-shapes")


def found_in(path) -> Detections:
    width, height = Image.open(path).size
    boxes = np.array([[10, 12, 60, 70], [100, 40, 150, 95]], np.float32)
    masks = tuple(CroppedMask(int(b[0]), int(b[1]), np.ones((int(b[3] - b[1]), int(b[2] - b[0])), bool)) for b in boxes)
    return Detections((height, width), boxes, np.array([0.9, 0.7], np.float32), np.array([1, 3], np.int64),
                      SPEC.categories, masks=masks, model_name="demo-shapes")


def test_imported_results_are_reviewed_without_running_the_model(qtbot, make_window, scenes, fake_model, tmp_path,
                                                                 monkeypatch):
    results = tmp_path / "results.json"
    write_coco(results, [ExportItem(str(p), found_in(p)) for p in scenes[:2]], "demo-shapes")
    window = make_window(model="fasterrcnn_mobilenet_v3_large_fpn")
    action = next(a for a in window.menu("File").actions() if a.objectName() == "import_results")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kw: (str(results), ""))
    action.trigger()

    c = window.controller
    qtbot.waitUntil(lambda: c.review is not None and c.review.path == str(scenes[0]), timeout=30_000)
    assert c.model == "demo-shapes"  # the model the file names
    np.testing.assert_allclose(c.review.detections.boxes, found_in(scenes[0]).boxes)

    def listed_as_done():
        assert [(e.path, e.state) for e in window.images.entries()] == [(str(p), DONE) for p in scenes[:2]]

    qtbot.waitUntil(listed_as_done)
    assert window.results_import.last_report.images == 2
    assert fake_model.calls == 0


def test_importing_over_listed_images_shows_the_imported_results(qtbot, make_window, scenes, fake_model, tmp_path,
                                                                   monkeypatch):
    """Images already listed and analysed with the same model: the import replaces what the
    window held (the open image and the list), not only what the store holds."""
    from tests.gui.helpers import wait_all_analysed, wait_for_review

    window = make_window(scenes[:2])
    wait_for_review(qtbot, window, scenes[0])
    window.analyse_all()
    wait_all_analysed(qtbot, window)
    c = window.controller
    c.open_row(1)
    wait_for_review(qtbot, window, scenes[1])
    c.open_row(0)
    wait_for_review(qtbot, window, scenes[0])
    assert len(c.review.detections) == 4  # the fake model's
    results = tmp_path / "results.json"
    write_coco(results, [ExportItem(str(p), found_in(p)) for p in scenes[:2]], "demo-shapes")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kw: (str(results), ""))
    window.results_import.action.trigger()

    qtbot.waitUntil(lambda: c.review is not None and len(c.review.detections) == 2, timeout=30_000)
    np.testing.assert_allclose(c.review.detections.boxes, found_in(scenes[0]).boxes)
    c.open_row(1)  # held in memory before the import
    qtbot.waitUntil(lambda: c.review is not None and c.review.path == str(scenes[1]), timeout=30_000)
    np.testing.assert_allclose(c.review.detections.boxes, found_in(scenes[1]).boxes)
