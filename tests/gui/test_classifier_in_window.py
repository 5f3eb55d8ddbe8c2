"""A classifier the user trained, in the review window: Tools ▸ Train classifier…, the Classifier
picker (listing, unreadable files, a newly saved classifier, the remembered choice), labels on
the detections (table column, canvas tags, cached, kept in the review store across restarts,
never on the wrong image or a replaced result, run on the model thread), Apply classifier
label(s) through the undoable decision path, and classifier_label/score in COCO and CSV exports.

The classifier is real: a ResNet-18 trained from scratch in about a second on 32 px synthetic
shapes (engine.train), saved with engine.train.checkpoint; the detector is the fast fake one."""

from __future__ import annotations

import csv
import json
import threading
from dataclasses import replace

import pytest
import torch
from PySide6.QtCore import Qt

from engine.classify import Classifier
from engine.images import load_image
from engine.store import ACCEPTED, RELABELLED, ClassifierKey, Decision
from engine.train import TrainConfig, save_classifier, scan_dataset, train_classifier
from engine.train.synthetic import write_shapes
from engine.weights import user_models_dir
from gui.review.classifier_labels import CROP_PADDING
from engine.review import boxes_fingerprint
from gui.review.detection_table import CLASSIFIER_COLUMN
from engine.review.exporting import COCO, CSV, INCLUDE_ALL, ExportRequest
from tests.gui.helpers import key, wait_for_review

CLASS_NAMES = ("Circle", "SQUARE", "triangle")  # the detector's are lower case: matched regardless of case


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real classifier checkpoint: resnet18 from scratch, 32 px, 2 epochs on synthetic shapes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("train") / "shapes"
    write_shapes(folder, 12, size=32)
    report = scan_dataset(folder, val_fraction=0.25, seed=0)
    config = TrainConfig(strategy="scratch", epochs=2, image_size=32, batch_size=8, device="cpu", patience=0,
                         name="shapes")
    result = train_classifier(report, config)
    torch.set_num_threads(before)
    return replace(result.checkpoint, class_names=CLASS_NAMES)


def install(checkpoint, name: str, **changes):
    """Save the checkpoint (with `changes`) as NAME.pt in this test's models folder."""
    return save_classifier(replace(checkpoint, name=name, **changes), user_models_dir() / f"{name}.pt")


def always(checkpoint, class_index: int):
    """The same network with a large bias on one class: it says that class for every crop."""
    state = dict(checkpoint.state_dict)
    bias = torch.zeros_like(state["fc.bias"])
    bias[class_index] = 60.0
    state["fc.bias"] = state["fc.bias"] + bias
    return replace(checkpoint, state_dict=state)


def pick(qtbot, window, path) -> None:
    """Choose the classifier file `path` in the model panel's picker (once it is listed)."""
    picker = window.model_panel.classifiers
    qtbot.waitUntil(lambda: picker.findData(str(path)) >= 0, timeout=10_000)
    picker.setCurrentIndex(picker.findData(str(path)))


def column_texts(window) -> list[str]:
    model = window.table.table_model
    return [model.data(model.index(row, CLASSIFIER_COLUMN)) for row in range(model.rowCount())]


def wait_for_labels(qtbot, window, timeout=30_000) -> list[str]:
    def ready():
        texts = column_texts(window)
        assert texts and all(t not in ("", "…", None) for t in texts)

    qtbot.waitUntil(ready, timeout=timeout)
    return column_texts(window)


def test_train_classifier_opens_one_wizard_at_a_time(qtbot, make_window):
    window = make_window()
    assert window.actions_["train_classifier"] in window.menu("Tools").actions()
    assert window.actions_["train_classifier"].shortcut().toString() == "Ctrl+T"
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    key(qtbot, window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wizard = window.classifier_tools.wizard
    assert wizard is not None and wizard.isVisible() and not wizard.isModal()
    window.actions_["train_classifier"].trigger()
    assert window.classifier_tools.wizard is wizard  # raised, not a second one
    wizard.close()
    qtbot.waitUntil(lambda: window.classifier_tools.wizard is None, timeout=5000)  # deleted on close
    window.actions_["train_classifier"].trigger()
    again = window.classifier_tools.wizard
    assert again is not None and again.isVisible()
    window.close()  # the wizard goes with the window
    assert not again.isVisible()


def test_picker_lists_classifiers_and_unreadable_files(qtbot, make_window, checkpoint):
    path = install(checkpoint, "shapes", metrics={"val_accuracy": 0.875})
    broken = user_models_dir() / "broken.pt"
    broken.write_bytes(b"not a model at all")
    window = make_window()
    picker = window.model_panel.classifiers
    qtbot.waitUntil(lambda: picker.count() == 3, timeout=10_000)
    assert picker.itemText(0) == "None" and picker.currentIndex() == 0
    good, bad = picker.findData(str(path)), picker.findData(str(broken))
    assert picker.itemText(good) == "shapes (3 classes)"
    tip = picker.itemData(good, Qt.ItemDataRole.ToolTipRole)
    assert "3 classes: Circle, SQUARE, triangle" in tip and "87.5%" in tip
    assert not picker.model().item(bad).isEnabled()
    assert "not a readable classifier file" in picker.itemData(bad, Qt.ItemDataRole.ToolTipRole)
    assert window.table.isColumnHidden(CLASSIFIER_COLUMN)


def test_labels_in_table_and_canvas_cached_and_remembered(qtbot, make_window, scenes, fake_model, checkpoint,
                                                          sightline_home):
    path = install(checkpoint, "shapes")
    window = make_window(scenes[:2])
    review = wait_for_review(qtbot, window, scenes[0])
    pick(qtbot, window, path)
    texts = wait_for_labels(qtbot, window)
    assert not window.table.isColumnHidden(CLASSIFIER_COLUMN)
    labels = window.classifier
    assert labels.runs == 1

    # the same labels the engine gives for these boxes, each among the classifier's classes
    expected = Classifier(path, device="cpu").predict_crops(load_image(scenes[0]), review.detections.boxes,
                                                            top_k=3, padding=CROP_PADDING)
    rows = window.table.table_model.rows
    assert texts == [f"{expected[i][0][0]} {expected[i][0][1]:.2f}" for i in rows]
    assert all(text.rsplit(" ", 1)[0] in CLASS_NAMES for text in texts)
    tag = window.canvas.item(rows[0]).label.text
    assert tag.endswith(f" · {texts[0]}") and tag.startswith(review.name(rows[0]))

    # re-filtering, selecting and reviewing never run the classifier again
    window.filter_panel.set_min_score(0.1)
    window.controller.select(rows[0])
    window.filter_panel.set_min_score(0.5)
    assert labels.runs == 1 and len(wait_for_labels(qtbot, window)) == len(rows)
    assert window.settings.value("classifier") == str(path)

    # the next image gets its own labels; coming back uses the cache
    window.controller.step(1)
    wait_for_review(qtbot, window, scenes[1])
    wait_for_labels(qtbot, window)
    assert labels.runs == 2
    window.controller.step(-1)
    wait_for_review(qtbot, window, scenes[0])
    assert wait_for_labels(qtbot, window) == texts and labels.runs == 2

    # None hides the column and the canvas notes
    window.model_panel.classifiers.setCurrentIndex(0)
    assert window.table.isColumnHidden(CLASSIFIER_COLUMN)
    assert " · " not in window.canvas.item(rows[0]).label.text
    assert window.settings.value("classifier") == ""
    pick(qtbot, window, path)
    window.close()

    second = make_window()  # the choice is remembered
    qtbot.waitUntil(lambda: second.model_panel.current_classifier() == str(path), timeout=10_000)
    assert second.classifier.chosen is not None and second.classifier.chosen.path == str(path)


def test_labels_survive_reopening_the_window(qtbot, make_window, scenes, fake_model, checkpoint):
    path = install(checkpoint, "shapes")
    window = make_window(scenes[:2])
    review = wait_for_review(qtbot, window, scenes[0])
    pick(qtbot, window, path)
    texts = wait_for_labels(qtbot, window)
    assert window.classifier.runs == 1
    chosen = ClassifierKey(*window.classifier.chosen.key)
    stored = window.store.classifier_labels(review.result_id, chosen, boxes_fingerprint(review.detections))
    assert stored is not None and len(stored) == len(review.detections)
    window.close()

    second = make_window(scenes[:2])  # a fresh window, a fresh store object: nothing in memory
    again = wait_for_review(qtbot, second, scenes[0])
    assert again.result_id == review.result_id
    assert wait_for_labels(qtbot, second) == texts
    assert second.classifier.runs == 0  # read from the store, not classified again
    assert second.jobs.jobs_run == 0


def test_a_reanalysis_never_shows_the_old_labels(qtbot, make_window, scenes, fake_model, checkpoint):
    path = install(checkpoint, "shapes")
    window = make_window(scenes[:1])
    review = wait_for_review(qtbot, window, scenes[0])
    pick(qtbot, window, path)
    wait_for_labels(qtbot, window)
    chosen = ClassifierKey(*window.classifier.chosen.key)
    boxes = boxes_fingerprint(review.detections)
    # labels no classifier would give, stored for this result: shown after a restart ...
    stale = [[("STALE", 0.99)] for _ in range(len(review.detections))]
    window.store.save_classifier_labels(review.result_id, chosen, boxes, stale)
    window.close()
    second = make_window(scenes[:1])
    wait_for_review(qtbot, second, scenes[0])
    assert set(wait_for_labels(qtbot, second)) == {"STALE 0.99"} and second.classifier.runs == 0

    # ... but never once the image is analysed again (the fake model finds the same boxes)
    shown = []
    second.classifier.labels_ready.connect(lambda: shown.extend(column_texts(second)))
    second.actions_["reanalyse"].trigger()
    qtbot.waitUntil(lambda: second.controller.review is not None
                    and second.controller.review.result_id != review.result_id, timeout=30_000)
    fresh = second.controller.review
    assert boxes_fingerprint(fresh.detections) == boxes
    texts = wait_for_labels(qtbot, second)
    assert not any(t.startswith("STALE") for t in texts + shown)
    assert all(t.rsplit(" ", 1)[0] in CLASS_NAMES for t in texts)
    assert second.classifier.runs == 1
    assert second.store.classifier_labels(review.result_id, chosen, boxes) is None  # gone with its result
    assert second.store.classifier_labels(fresh.result_id, chosen, boxes) is not None


def test_the_classifier_runs_on_the_model_thread_after_a_detection(qtbot, make_window, scenes, fake_model,
                                                                   checkpoint, monkeypatch):
    """One model job on the device at a time: the classifier waits for the detector's job."""
    from gui.review import classifier_labels

    path = install(checkpoint, "shapes")
    window = make_window(scenes[:2])
    wait_for_review(qtbot, window, scenes[0])
    runs = []
    real = classifier_labels.label_boxes

    def label_boxes(*args):
        runs.append((threading.current_thread().name, window.jobs.running))
        return real(*args)

    monkeypatch.setattr(classifier_labels, "label_boxes", label_boxes)
    window.controller.analyse_all()  # the second image on the device ...
    pick(qtbot, window, path)  # ... while the first is labelled
    wait_for_labels(qtbot, window)
    assert len(runs) == 1
    thread, running = runs[0]
    assert thread == "sightline-device"
    assert running is not None and not running.uses_detector  # nothing else on the device meanwhile
    qtbot.waitUntil(lambda: window.store.load_result(scenes[1], "demo-shapes") is not None, timeout=30_000)


def test_stale_labels_never_land_on_another_image(qtbot, make_window, scenes, fake_model, checkpoint):
    path = install(checkpoint, "shapes")
    window = make_window(scenes)
    wait_for_review(qtbot, window, scenes[0])
    qtbot.waitUntil(lambda: len(window.images) == 4)
    pick(qtbot, window, path)
    c = window.controller
    wrong = []

    def check():
        view = window.table.table_model.classifier
        if view is not None and view.predictions is not None:
            key_ = window.classifier.key(c.review)
            if window.classifier._cache.get(key_) is not view.predictions:
                wrong.append(c.current_path)

    c.view_changed.connect(check)
    window.classifier.labels_ready.connect(check)
    for step in (1, 1, -1, 1, 1, -1, 1):
        c.step(step)
        qtbot.wait(40)
    final = wait_for_review(qtbot, window, c.current_path)
    texts = wait_for_labels(qtbot, window)
    qtbot.wait(300)  # let straggling answers arrive
    assert not wrong
    expected = Classifier(path, device="cpu").predict_crops(load_image(final.path), final.detections.boxes,
                                                            top_k=1, padding=CROP_PADDING)
    assert texts == [f"{expected[i][0][0]} {expected[i][0][1]:.2f}" for i in window.table.table_model.rows]


def test_apply_classifier_label_relabels_undoably(qtbot, make_window, scenes, fake_model, checkpoint):
    square = install(always(checkpoint, 1), "always-square")
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    c = window.controller
    pick(qtbot, window, square)
    assert wait_for_labels(qtbot, window)[0].startswith("SQUARE ")
    c.select(0)  # the fake model says circle
    key(qtbot, window, Qt.Key.Key_C)
    stored = window.store.load_result(scenes[0], "demo-shapes")
    assert stored.decisions == {0: Decision(RELABELLED, 2)}  # "SQUARE" is the detector's "square"
    assert c.review.name(0) == "square"
    assert "relabelled as square" in window.status.currentMessage()
    assert window.controller.undo_stack.undoText().startswith("Relabel as square")
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {}
    assert c.review.name(0) == "circle"

    # all matching at once, after a look at what will change, as one undo step: the circle and
    # triangle relabelled, the square accepted
    window.actions_["apply_classifier_all"].trigger()
    dialog = window.classifier_tools.bulk_dialog
    qtbot.waitUntil(lambda: dialog.isVisible())
    rows = [[dialog.table.item(r, col).text() for col in range(5)] for r in range(dialog.table.rowCount())]
    assert [r[0] for r in rows] == ["#1", "#2", "#3"] and rows[0][1] == "circle" and rows[0][3].startswith("SQUARE ")
    assert [r[4] for r in rows] == ["square (relabel)", "square (accept)", "square (relabel)"]
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {}  # nothing until Apply
    dialog.reject()  # Cancel: nothing changes
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {}
    window.actions_["apply_classifier_all"].trigger()
    dialog = window.classifier_tools.bulk_dialog
    qtbot.waitUntil(lambda: dialog.isVisible())
    dialog.apply_button.click()
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {
        0: Decision(RELABELLED, 2), 1: Decision(ACCEPTED), 2: Decision(RELABELLED, 2)}
    assert "2 relabelled, 1 accepted" in window.status.currentMessage()
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {}


def test_a_label_the_detector_does_not_know_is_not_applied(qtbot, make_window, scenes, fake_model, checkpoint):
    other = install(always(checkpoint, 0), "kinds", class_names=("round", "boxy", "pointy"))
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    key(qtbot, window, Qt.Key.Key_C)
    assert "No classifier chosen" in window.status.currentMessage()
    pick(qtbot, window, other)
    wait_for_labels(qtbot, window)
    window.controller.select(0)
    key(qtbot, window, Qt.Key.Key_C)
    message = window.status.currentMessage()
    assert "round" in message and "not a class of demo-shapes" in message
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {}
    assert window.controller.undo_stack.count() == 0


def test_saving_from_the_wizard_adds_and_chooses_it(qtbot, make_window, scenes, fake_model, checkpoint):
    install(checkpoint, "older")
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    picker = window.model_panel.classifiers
    qtbot.waitUntil(lambda: picker.count() == 2, timeout=10_000)
    assert window.model_panel.current_classifier() == ""
    wizard = window.classifier_tools.open_wizard()
    path = install(checkpoint, "fresh")  # what the wizard's Save writes ...
    wizard.classifierSaved.emit(str(path))  # ... and then says
    qtbot.waitUntil(lambda: window.model_panel.current_classifier() == str(path), timeout=10_000)
    assert picker.count() == 3
    assert window.settings.value("classifier") == str(path)
    assert all(t.rsplit(" ", 1)[0] in CLASS_NAMES for t in wait_for_labels(qtbot, window))
    wizard.close()


def test_exports_carry_the_classifier_labels(qtbot, make_window, scenes, fake_model, checkpoint, tmp_path):
    path = install(checkpoint, "shapes")
    window = make_window(scenes[:2])
    review = wait_for_review(qtbot, window, scenes[0])
    pick(qtbot, window, path)
    texts = wait_for_labels(qtbot, window)
    first_row = window.table.table_model.rows[0]
    label, score = texts[0].rsplit(" ", 1)
    window.controller.analyse_all()  # the second image analysed, never shown: no classifier labels

    def export(kind, name):
        window.io.last_export = None
        window.io.start_export(ExportRequest(kind, tmp_path / name, [str(p) for p in scenes[:2]], "demo-shapes",
                                             include=INCLUDE_ALL))
        qtbot.waitUntil(lambda: window.io.last_export is not None, timeout=30_000)
        return tmp_path / name

    qtbot.waitUntil(lambda: window.store.load_result(scenes[1], "demo-shapes") is not None, timeout=30_000)
    document = json.loads(export(COCO, "out.json").read_text())
    annotations = [a for a in document["annotations"] if a["image_id"] == 1]
    assert len(annotations) == len(review.detections)
    chosen = next(a for a in annotations if a["detection_index"] == first_row)
    assert chosen["classifier_label"] == label and f"{chosen['classifier_score']:.2f}" == score
    assert all(a["classifier_label"] in CLASS_NAMES for a in annotations)
    assert not any("classifier_label" in a for a in document["annotations"] if a["image_id"] == 2)

    with open(export(CSV, "out.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    mine = [r for r in rows if r["file"] == str(scenes[0])]
    assert all(r["classifier_label"] in CLASS_NAMES and float(r["classifier_score"]) > 0 for r in mine)
    assert all(r["classifier_label"] == "" for r in rows if r["file"] == str(scenes[1]))


def test_exports_take_stored_labels_of_images_not_viewed_this_session(qtbot, make_window, scenes, fake_model,
                                                                      checkpoint, tmp_path):
    path = install(checkpoint, "shapes")
    window = make_window(scenes[:1])
    review = wait_for_review(qtbot, window, scenes[0])
    pick(qtbot, window, path)
    texts = wait_for_labels(qtbot, window)
    window.close()

    second = make_window([scenes[1], scenes[0]])  # scenes[0] is never shown in this window
    wait_for_review(qtbot, second, scenes[1])
    assert second.classifier.export_labels().get(review.result_id) is None  # nothing in memory for it
    second.io.last_export = None
    second.io.start_export(ExportRequest(COCO, tmp_path / "out.json", [str(scenes[0])], "demo-shapes",
                                         include=INCLUDE_ALL))
    qtbot.waitUntil(lambda: second.io.last_export is not None, timeout=30_000)
    annotations = json.loads((tmp_path / "out.json").read_text())["annotations"]
    assert len(annotations) == len(review.detections)
    assert all("classifier_label" in a for a in annotations)
    exported = {f"{a['classifier_label']} {a['classifier_score']:.2f}" for a in annotations}
    assert set(texts) <= exported  # the table showed those above the threshold; all are exported
