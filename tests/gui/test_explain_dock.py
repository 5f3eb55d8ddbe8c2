"""The Explain dock: for the shown image and the selected detection it draws heatmaps, feature
maps and filters computed in the background (progress, Cancel), cached per image and model."""

import numpy as np
import pytest
from PIL import Image

from tests.engine.explain_helpers import demo_scene
from tests.gui.helpers import MODEL_TIMEOUT_MS, wait_for_review

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def circle_image(tmp_path):
    image, box = demo_scene()
    path = tmp_path / "circle.png"
    Image.fromarray(image).save(path)
    return path, box


def _open_dock(qtbot, window):
    panel = window.explain
    panel.dock.show()
    panel.dock.raise_()
    qtbot.waitUntil(panel.view.isVisible)
    return panel


def _pick(combo, data):
    index = combo.findData(data)
    assert index >= 0, f"{data} not offered"
    combo.setCurrentIndex(index)


def test_feature_maps_and_filters_of_the_detector_cached_per_image(qtbot, make_window, circle_image):
    path, _ = circle_image
    window = make_window([path])
    wait_for_review(qtbot, window, path)
    panel = _open_dock(qtbot, window)
    view = panel.view
    assert [view.method.itemData(i) for i in range(view.method.count())] == ["occlusion", "features", "filters"]
    _pick(view.method, "features")  # quick: runs at once, every stage in one go
    qtbot.waitUntil(lambda: panel.runs == 1 and view.drawn() is not None, timeout=MODEL_TIMEOUT_MS)
    stages = [view.stage.itemData(i) for i in range(view.stage.count())]
    assert stages == ["layer1", "layer2", "layer3", "fpn0", "fpn1", "fpn2", "fpnpool"]
    first = view.drawn()
    assert first.shape == (2 * 144 + 6, 2 * 160 + 6, 3)  # the four strongest channels, 2 x 2
    _pick(view.stage, "fpnpool")
    assert panel.runs == 1 and not np.array_equal(view.drawn(), first)  # drawn again, not run again
    assert "fpnpool" in view.caption.text()
    view.opacity.setValue(0)
    assert np.array_equal(view.drawn()[2:146, 2:162], np.asarray(Image.open(path)))  # opacity 0: the photo
    _pick(view.method, "filters")
    qtbot.waitUntil(lambda: panel.runs == 2, timeout=MODEL_TIMEOUT_MS)
    assert "64 filters of backbone.body.conv1" in view.caption.text()
    _pick(view.method, "features")
    assert panel.runs == 2 and view.drawn() is not None  # from the cache


def test_occlusion_of_the_selected_detection_with_progress_and_cancel(qtbot, make_window, circle_image, monkeypatch):
    from gui.explain import work

    monkeypatch.setattr(work, "OCCLUSION_GRID", 4)  # 20 model runs instead of 72: quick on busy cores
    path, box = circle_image
    window = make_window([path])
    wait_for_review(qtbot, window, path)
    panel = _open_dock(qtbot, window)
    view = panel.view
    _pick(view.method, "occlusion")
    assert "Select a detection" in view.picture.text()
    window.controller.select(0)
    assert "Press Explain" in view.picture.text() and panel.runs == 0  # slow: waits to be asked
    view.explain_button.click()
    assert view.cancel_button.isVisibleTo(view) and not view.explain_button.isEnabled()
    with qtbot.waitSignal(panel.finished, timeout=MODEL_TIMEOUT_MS):
        view.cancel_button.click()
    assert panel.runs == 0 and not panel.cache and "Cancelled" in view.picture.text()
    assert view.explain_button.isEnabled() and not view.cancel_button.isVisibleTo(view)
    view.explain_button.click()
    qtbot.waitUntil(lambda: view.progress.maximum() == 20, timeout=MODEL_TIMEOUT_MS)  # progress: 20 patches
    qtbot.waitUntil(lambda: panel.runs == 1, timeout=MODEL_TIMEOUT_MS)
    result = next(iter(panel.cache.values()))
    y, x = np.unravel_index(np.argmax(result.values), result.values.shape)
    assert box[0] <= x < box[2] and box[1] <= y < box[3]  # the drop is largest over the circle
    assert "occlusion: drop in the score of circle" in view.caption.text()


def test_misclassified_images_open_with_the_gradcam_of_the_class_they_were_taken_for(qtbot, tmp_path):
    from engine.train.checkpoint import load_classifier_file
    from gui.wizard.misclassified import MisclassifiedDialog
    from tests.engine.explain_helpers import save_colour_classifier, scene

    checkpoint = load_classifier_file(save_colour_classifier(tmp_path, input_size=64))
    paths = []
    for i, square in enumerate([(10, 10, 30), (60, 50, 30)]):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(scene(96, 96, {"blue": square})).save(paths[-1])
    dialog = MisclassifiedDialog("red", "blue", paths, checkpoint=checkpoint)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.gradcams_loaded == 2, timeout=MODEL_TIMEOUT_MS)
    assert dialog.show_gradcam.isChecked() and "'blue'" in dialog.show_gradcam.text()

    def shown(index):
        return dialog.list.item(index).icon().pixmap(128, 128).toImage()

    assert shown(0) == dialog.icons["gradcam"][0].pixmap(128, 128).toImage()
    dialog.show_gradcam.setChecked(False)  # back to the photos
    assert shown(0) == dialog.icons["photo"][0].pixmap(128, 128).toImage() != dialog.icons["gradcam"][0].pixmap(128, 128).toImage()
    plain = MisclassifiedDialog("red", "blue", paths)  # no classifier: photos only, no switch
    qtbot.addWidget(plain)
    qtbot.waitUntil(lambda: plain.thumbnails_loaded == 2)
    assert plain.show_gradcam.isHidden() and plain.gradcams_loaded == 0


def test_the_chosen_classifier_explains_the_selected_detections_crop(qtbot, make_window, circle_image):
    from engine.classify import classifier_info
    from engine.weights import user_models_dir
    from tests.engine.explain_helpers import save_colour_classifier

    path, box = circle_image
    window = make_window([path])
    wait_for_review(qtbot, window, path)
    window.classifier.choose(classifier_info(save_colour_classifier(user_models_dir(), input_size=64)))
    panel = _open_dock(qtbot, window)
    view = panel.view
    _pick(view.source, "classifier")
    assert [view.target.itemText(i) for i in range(view.target.count())] == ["predicted class", "red", "green", "blue"]
    _pick(view.method, "gradcam")
    qtbot.waitUntil(lambda: panel.runs == 1, timeout=MODEL_TIMEOUT_MS)
    whole = next(iter(panel.cache.values()))
    assert whole.image.shape == (144, 160, 3) and "gradcam of red" in view.caption.text()  # nothing selected
    window.controller.select(0)
    qtbot.waitUntil(lambda: panel.runs == 2, timeout=MODEL_TIMEOUT_MS)
    crop = list(panel.cache.values())[-1]
    x0, y0, x1, y1 = window.controller.review.detections.boxes[0]
    assert crop.image.shape[:2] == crop.values.shape and crop.image.shape[0] < 144  # the detection's crop
    assert crop.image.shape[1] == pytest.approx((x1 - x0) * 1.2, abs=3)  # with a tenth around it
    _pick(view.target, "blue")
    qtbot.waitUntil(lambda: panel.runs == 3, timeout=MODEL_TIMEOUT_MS)
    assert "gradcam of blue" in view.caption.text()
