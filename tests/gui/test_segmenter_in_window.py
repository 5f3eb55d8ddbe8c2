"""A segmenter in the window: listed beside the detectors, run like one, its classes drawn as
translucent masks over the image."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtGui import QImage

from engine.draw import class_colour
from engine.segment.model_file import make_segmenter_file, save_segmenter
from engine.segment.unet import UNet
from tests.gui.helpers import wait_for_review


def _constant_segmenter(path):
    """Every pixel is a "circle": one region covering the whole image."""
    model = UNet(3, base=4, depth=2)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    save_segmenter(make_segmenter_file(model, ("background", "circle", "square"), 64, (0.5,) * 3, (0.25,) * 3), path)


def test_segmenter_is_a_model_with_a_translucent_overlay(qtbot, make_window, scenes, sightline_home):
    models = sightline_home / "models"
    models.mkdir()
    _constant_segmenter(models / "shapes-seg.pt")
    window = make_window(model="shapes-seg.pt")
    assert window.model_panel.models.findData("shapes-seg.pt") >= 0  # listed beside the detectors
    window.add_paths([str(scenes[0])])
    review = wait_for_review(qtbot, window, scenes[0])
    assert review.model == "shapes-seg.pt" and not review.failure
    assert review.detections.names == ["circle"] and review.detections.masks[0].area == np.prod(review.detections.image_size)
    qtbot.waitUntil(lambda: window.canvas.shown_indices() == [0])
    height, width = review.detections.image_size
    frame = QImage(window.canvas.viewport().size(), QImage.Format.Format_ARGB32)
    frame.fill(0)
    window.canvas.fit()
    window.canvas.viewport().render(frame)
    centre = window.canvas.mapFromScene(width / 2, height / 2)
    shown = frame.pixelColor(centre)
    window.canvas.item(0).setVisible(False)
    bare = QImage(window.canvas.viewport().size(), QImage.Format.Format_ARGB32)
    bare.fill(0)
    window.canvas.viewport().render(bare)
    plain = bare.pixelColor(centre)
    pure = class_colour(1)
    assert shown.getRgb()[:3] != plain.getRgb()[:3]  # the class colour tints the photo ...
    assert shown.getRgb()[:3] != pure  # ... translucently: the photo shows through


def test_train_segmenter_from_the_window(qtbot, make_window, tmp_path, sightline_home):
    from dataclasses import replace

    from engine.demo.scenes_coco import write_scene_folder
    from engine.segment.train import SegmenterSettings
    from gui.segment.train_dialog import open_training_dialog

    window = make_window()
    action = next(a for a in window.menu("Tools").actions() if a.text() == "Train &segmenter…")
    action.trigger()
    assert window.segmenter_dialog.isVisible()
    window.segmenter_dialog.close()
    write_scene_folder(tmp_path / "scenes", 7_200_000, 3)
    tiny = replace(SegmenterSettings(), base=4, depth=2, samples_per_epoch=4, batch_size=2)
    dialog = open_training_dialog(window, tiny)
    dialog.folder.setText(str(tmp_path))  # no annotations here: said, nothing saved
    with qtbot.waitSignal(dialog.ended, timeout=60_000):
        dialog.start.click()
    assert "Not trained" in dialog.result.text() and "no COCO annotations" in dialog.result.text()
    dialog.folder.setText(str(tmp_path / "scenes"))
    dialog.epochs.setValue(2)
    dialog.image_size.setValue(64)
    with qtbot.waitSignal(dialog.saved, timeout=120_000) as saved:
        dialog.start.click()
    path = saved.args[0]
    assert path.startswith(str(sightline_home / "models")) and "scenes" in path
    assert dialog.log.toPlainText().count("val mIoU") == 2 and "Saved as" in dialog.result.text()
    name = path.rsplit("/", 1)[-1]
    assert window.model_panel.models.findData(name) >= 0  # listed beside the detectors at once
