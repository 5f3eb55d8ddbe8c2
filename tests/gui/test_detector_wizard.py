"""The detector path of the training wizard, driven with pytest-qt: the first-page choice, a
COCO folder's data report, live curves while fine-tuning, Cancel, and saving a model that the
model list then holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from engine.demo.scene_folder import write_scene_folder
from engine.models import list_specs
from gui.wizard.detector_wizard import PAGE_CHOICE, DetectorWizard
from gui.wizard.wizard import PAGE_DATA

TIMEOUT_MS = 600_000  # fine-tuning on two busy CPU cores
NEXT = QWizard.WizardButton.NextButton

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def coco(tmp_path):
    return write_scene_folder(tmp_path / "scenes", [5_000_076, 5_000_224, 5_000_246])  # small, with crosses


@pytest.fixture
def wizard(qtbot):
    wizard = DetectorWizard(device="cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    yield wizard
    for job in (wizard.data_page.job, wizard.training_page.job):
        if job is not None:
            job.request_cancel()
            job.wait()


def checked(qtbot, wizard, coco, page=None) -> None:
    page = page or wizard.data_page
    page.folder.setText(str(coco.parent))
    page.from_coco.setChecked(True)
    page.coco.setText(str(coco))
    page.check_button.click()
    qtbot.waitUntil(page.isComplete, timeout=60_000)


def test_first_page_of_the_windows_wizard_leads_to_either_path(qtbot, make_window):
    window = make_window()
    window.actions_["train_classifier"].trigger()
    wizard = window.classifier_tools.wizard
    assert wizard.currentId() == PAGE_CHOICE and wizard.choice_page.classifier.isChecked()
    wizard.button(NEXT).click()
    assert wizard.currentId() == PAGE_DATA  # the classifier path, as before
    wizard.back()
    wizard.choice_page.detector.setChecked(True)
    wizard.button(NEXT).click()
    assert wizard.currentPage() is wizard.detector_data_page
    wizard.close()


@pytest.mark.slow
def test_window_wizard_trains_a_detector_stops_and_keeps_best(qtbot, make_window, coco):
    window = make_window()
    window.actions_["train_classifier"].trigger()
    wizard = window.classifier_tools.wizard
    wizard.choice_page.detector.setChecked(True)
    wizard.button(NEXT).click()
    checked(qtbot, wizard, coco, wizard.detector_data_page)
    assert "cross" in wizard.detector_data_page.report.toPlainText()
    wizard.button(NEXT).click()
    training = wizard.detector_training_page
    assert wizard.currentPage() is training
    training.epochs.setValue(50)
    training.val_fraction.setValue(0.34)
    training.start_button.click()
    qtbot.waitUntil(lambda: training.ap_plot.point_count() >= 1, timeout=TIMEOUT_MS)  # live curves
    assert training.loss_plot.point_count() >= 1
    training.stop_button.click()
    qtbot.waitUntil(training.isComplete, timeout=TIMEOUT_MS)
    assert training.result.fit.stop_reason == "stopped by request" and training.loss_plot.point_count() < 50
    wizard.button(NEXT).click()
    results = wizard.detector_results_page
    assert "cross" in results.table.toPlainText()
    results.name.setText("window-cross")
    with qtbot.waitSignal(wizard.detectorSaved) as saved:
        results.save_button.click()
    assert window.model_panel.models.findData(Path(saved.args[0]).stem) >= 0  # in the window's picker at once
    wizard.close()
    qtbot.waitUntil(lambda: window.classifier_tools.wizard is None, timeout=5000)


def test_data_report_and_a_clear_error(qtbot, wizard, coco, tmp_path):
    page = wizard.data_page
    page.folder.setText(str(tmp_path))
    page.from_coco.setChecked(True)
    page.coco.setText(str(tmp_path / "missing.json"))
    page.check_button.click()
    qtbot.waitUntil(lambda: page.job is None, timeout=60_000)
    assert not page.isComplete() and "missing.json: file not found" in page.message.text()
    checked(qtbot, wizard, coco)
    assert "3 images" in page.report.toPlainText() and "cross" in page.report.toPlainText()


@pytest.mark.slow
def test_fine_tune_shows_curves_and_saves_a_listed_model(qtbot, wizard, coco):
    checked(qtbot, wizard, coco)
    wizard.button(NEXT).click()
    page = wizard.training_page
    page.epochs.setValue(2)
    page.val_fraction.setValue(0.34)
    page.start_button.click()
    qtbot.waitUntil(page.isComplete, timeout=TIMEOUT_MS)
    assert page.loss_plot.point_count() == 2 and page.ap_plot.point_count() == 2
    assert "epoch   2/2" in page.log.toPlainText()
    wizard.button(NEXT).click()
    results = wizard.results_page
    assert "cross" in results.table.toPlainText() and "before" in results.table.toPlainText()
    results.name.setText("wizard-cross")
    with qtbot.waitSignal(wizard.detectorSaved) as saved:
        results.save_button.click()
    assert saved.args[0].endswith(".pt")
    spec = next(s for s in list_specs() if s.weights_file is not None and str(s.weights_file) == saved.args[0])
    assert spec.categories[-1] == "cross" and "wizard-cross" in spec.title


def test_cancel_keeps_nothing(qtbot, wizard, coco):
    checked(qtbot, wizard, coco)
    wizard.button(NEXT).click()
    page = wizard.training_page
    page.start_button.click()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.job is None, timeout=TIMEOUT_MS)
    assert page.result is None and not page.isComplete() and "nothing was kept" in page.message.text()


def test_window_opens_the_detector_wizard_and_lists_a_saved_model(qtbot, make_window, scenes):
    from engine.train import detection_model as DM
    from engine.train.detector_checkpoint import make_checkpoint, save_detector
    from engine.weights import user_models_dir

    window = make_window(scenes)
    qtbot.waitUntil(lambda: window.controller.current_path is not None, timeout=10_000)
    assert window.actions_["train_detector"] in window.menu("Tools").actions()
    window.actions_["train_detector"].trigger()
    wizard = window.classifier_tools.detector_training.wizard
    assert wizard is not None and wizard.isVisible() and not wizard.isModal()
    assert wizard.data_page.folder.text() == str(scenes[0].parent)
    window.actions_["train_detector"].trigger()
    assert window.classifier_tools.detector_training.wizard is wizard  # raised, not a second one
    plan = DM.plan("demo-shapes", ("circle", "cross"))
    checkpoint = make_checkpoint(DM.build(plan), plan.base, plan.class_names, plan.outputs, plan.keypoint_names,
                                 plan.skeleton, name="tiny")
    path = save_detector(checkpoint, user_models_dir() / "tiny.pt")
    assert window.model_panel.models.findData("tiny") < 0
    wizard.detectorSaved.emit(str(path))
    assert window.model_panel.models.findData("tiny") >= 0  # in the picker at once
    wizard.close()
    qtbot.waitUntil(lambda: window.classifier_tools.detector_training.wizard is None, timeout=5000)
