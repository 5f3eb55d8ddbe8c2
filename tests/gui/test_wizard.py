"""The training wizard driven page by page with pytest-qt, on small synthetic folders and a fast
configuration (resnet18 from scratch or a linear probe, 32 px images): the data report, the
strategy advice and missing weights, the augmentation preview, live curves, Stop and keep best,
Cancel, the results with the confusion matrix, and saving a classifier the engine can load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from engine.classify import Classifier
from engine.train import imagenet_weights_available, imagenet_weights_path
from engine.train.synthetic import write_shapes
from engine.weights import user_models_dir
from gui.wizard import TrainWizard
from gui.wizard.pages_training import CANCELLED, FINISHED

TRAIN_TIMEOUT_MS = 180_000  # two busy CPU cores
NEXT = QWizard.WizardButton.NextButton
BACK = QWizard.WizardButton.BackButton
FINISH = QWizard.WizardButton.FinishButton


@pytest.fixture(autouse=True)
def private_torch_home(tmp_path, monkeypatch):
    """An empty torchvision cache of this test's own: no ImageNet weights, and an import stays here."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    assert not imagenet_weights_available("resnet18")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def wizard(qtbot):
    wizard = TrainWizard(device="cpu")
    wizard.confirm_discard = False
    qtbot.addWidget(wizard)
    wizard.show()
    yield wizard
    for job in wizard.busy_jobs():
        job.request_cancel()
        job.wait()


@pytest.fixture
def shapes(tmp_path) -> Path:
    """circle / square, plus two classes that look alike (so some images are always mistaken)."""
    folder = tmp_path / "shapes"
    write_shapes(folder, 10, size=32, classes=("circle", "square", "left", "right"))
    return folder


def model_files() -> list[Path]:
    folder = user_models_dir()
    return sorted(folder.iterdir()) if folder.exists() else []


def scan(qtbot, wizard, folder) -> None:
    wizard.data_page.set_folder(folder)  # the check starts at once, in the background
    qtbot.waitUntil(lambda: wizard.data_page.check_button.isEnabled(), timeout=60_000)


def to_training(qtbot, wizard, folder, strategy="scratch", epochs=1, patience=0) -> None:
    """Folder -> strategy -> fast settings -> the training page (training starts)."""
    scan(qtbot, wizard, folder)
    assert wizard.button(NEXT).isEnabled()
    wizard.next()
    wizard.strategy_page.set_strategy(strategy)
    assert wizard.button(NEXT).isEnabled()
    wizard.next()
    settings = wizard.settings_page
    settings.size_spin.setValue(32)
    settings.epochs_spin.setValue(epochs)
    settings.batch_spin.setValue(8)
    settings.patience_spin.setValue(patience)
    settings.set_device("cpu")
    wizard.next()
    assert wizard.currentPage() is wizard.training_page


def test_train_stop_keep_best_results_and_save(qtbot, wizard, shapes, gap_meter):
    scan(qtbot, wizard, shapes)
    data = wizard.data_page
    assert data.report is not None and data.report.class_names == ("circle", "left", "right", "square")
    assert data.table.rowCount() == 5  # four classes and the total
    assert "4 classes" in data.summary.text() and "Imbalance" in data.summary.text()

    wizard.next()  # strategy: no ImageNet weights in this TORCH_HOME -> scratch, and the file is named
    strategy = wizard.strategy_page
    assert strategy.strategy == "scratch"
    weights = imagenet_weights_path("resnet18")
    assert weights.name in strategy.weights_message.text()
    assert str(weights.parent) in strategy.weights_message.text()
    assert "30" in strategy.rules.text() and "500" in strategy.rules.text()  # thresholds shown
    strategy.set_strategy("finetune")  # needs the missing weights: Next is off, scratch is offered
    assert not wizard.button(NEXT).isEnabled() and strategy.scratch_button.isVisible()
    qtbot.mouseClick(strategy.scratch_button, Qt.MouseButton.LeftButton)
    assert strategy.strategy == "scratch" and wizard.button(NEXT).isEnabled()

    wizard.next()  # settings: the preview grid fills in the background
    settings = wizard.settings_page
    settings.size_spin.setValue(32)
    settings.epochs_spin.setValue(30)
    settings.batch_spin.setValue(8)
    settings.patience_spin.setValue(0)
    qtbot.waitUntil(lambda: settings.preview_count > 0, timeout=30_000)
    assert all(not tile.pixmap().isNull() for tile in settings.tiles)

    with gap_meter() as meter:
        wizard.next()  # training starts; stop after the first epochs and keep the best
        page = wizard.training_page
        qtbot.waitUntil(lambda: len(page.history) >= 2, timeout=TRAIN_TIMEOUT_MS)
        assert not wizard.button(BACK).isEnabled() and not wizard.button(NEXT).isEnabled()
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.state == FINISHED and page.job is None, timeout=TRAIN_TIMEOUT_MS)
    print(f"\nlongest event-loop gap while training: {meter.max_gap * 1000:.0f} ms")
    assert meter.max_gap < 1.0
    result = wizard.result
    assert result.fit.stop_reason == "stopped by request" and len(result.fit.history) < 30
    assert page.loss_plot.point_count() == 2 * len(page.history) >= 4
    assert page.acc_plot.point_count() == 2 * len(page.history)
    assert wizard.button(NEXT).isEnabled() and wizard.button(BACK).isEnabled()
    assert model_files() == []  # nothing written before saving

    wizard.next()  # results
    results = wizard.results_page
    assert results.accuracy_label.text().startswith("Validation accuracy")
    assert f"{result.results.accuracy:.1%}" in results.accuracy_label.text()
    assert results.per_class.rowCount() == 4 and results.confusion.rowCount() == 4
    assert not wizard.button(FINISH).isEnabled()
    confusion = result.results.confusion
    row, column = next((r, c) for r in range(4) for c in range(4) if r != c and confusion[r, c])
    item = results.confusion.item(row, column)
    rect = results.confusion.visualItemRect(item)
    qtbot.mouseClick(results.confusion.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = results.dialog
    names = result.results.class_names
    assert dialog is not None and dialog.isVisible()
    assert dialog.paths == result.results.misclassified[(names[row], names[column])]
    assert dialog.list.count() == confusion[row, column]
    qtbot.waitUntil(lambda: dialog.thumbnails_loaded == dialog.list.count(), timeout=10_000)
    assert not dialog.list.item(0).icon().isNull()
    dialog.close()

    results.name_edit.setText("shapes test")
    with qtbot.waitSignal(wizard.classifierSaved, timeout=30_000) as saved:
        qtbot.mouseClick(results.save_button, Qt.MouseButton.LeftButton)
    path = Path(saved.args[0])
    assert path.parent == user_models_dir() and path.is_file()
    assert model_files() == [path]  # no temporary file left beside it
    classifier = Classifier(path, device="cpu")
    assert classifier.class_names == names and classifier.name == "shapes test"
    assert classifier.input_size == 32
    qtbot.waitUntil(lambda: wizard.button(FINISH).isEnabled(), timeout=5000)
    assert not results.save_button.isEnabled()  # one result, one file
    wizard.accept()
    assert not wizard.isVisible()


def test_cancel_and_closing_during_training_leave_no_file(qtbot, wizard, shapes):
    to_training(qtbot, wizard, shapes, epochs=200)
    page = wizard.training_page
    qtbot.waitUntil(lambda: len(page.history) >= 1, timeout=TRAIN_TIMEOUT_MS)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.state == CANCELLED and page.job is None, timeout=TRAIN_TIMEOUT_MS)
    assert wizard.result is None and not wizard.button(NEXT).isEnabled()
    assert page.restart_button.isVisible() and "nothing was written" in page.message.text()
    qtbot.waitUntil(lambda: wizard.button(BACK).isEnabled(), timeout=2000)

    qtbot.mouseClick(page.restart_button, Qt.MouseButton.LeftButton)  # again, then close the window
    assert page.job is not None
    qtbot.waitUntil(lambda: page.progress.value() > 0, timeout=TRAIN_TIMEOUT_MS)
    wizard.reject()  # Cancel / Escape / the window's close button
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=TRAIN_TIMEOUT_MS)
    assert wizard.busy_jobs() == [] and wizard.result is None
    assert model_files() == []


@pytest.mark.parametrize("counts, expected", [
    ({"only": 5}, "at least two"),
    ({"cats": 5, "dogs": 1}, "'dogs' (1)"),
])  # fmt: skip
def test_folder_that_cannot_be_trained_says_what_to_fix(qtbot, wizard, tmp_path, counts, expected):
    folder = tmp_path / "few"
    write_shapes(folder, list(counts.values()), classes=tuple(counts))
    scan(qtbot, wizard, folder)
    page = wizard.data_page
    assert page.report is None
    assert page.message.kind == "error" and expected in page.message.text()
    assert not wizard.button(NEXT).isEnabled()
    wizard.next()
    assert wizard.currentPage() is page


def test_imported_weights_change_the_advice_and_a_linear_probe_trains(qtbot, wizard, shapes, tmp_path):
    scan(qtbot, wizard, shapes)
    wizard.next()
    strategy = wizard.strategy_page
    assert strategy.strategy == "scratch" and strategy.import_button.isVisible()
    source = tmp_path / "my-resnet18.pth"
    from torchvision.models import resnet18

    torch.save(resnet18(weights=None).state_dict(), source)  # stands in for the real ImageNet file
    strategy.import_weights(str(source), "resnet18")
    qtbot.waitUntil(lambda: imagenet_weights_available("resnet18") and strategy.isComplete(), timeout=60_000)
    assert strategy.strategy == "probe-features"  # fewer than 30 images in the smallest class
    assert "probe-features" in strategy.advice.text()
    assert strategy.weights_message.kind == "ok" and str(imagenet_weights_path("resnet18")) in strategy.weights_message.text()
    assert strategy.backbone_status["resnet18"].text() == "weights found"

    wizard.next()
    settings = wizard.settings_page
    assert settings.epochs_spin.value() == 100  # the probe's default
    settings.size_spin.setValue(32)
    settings.epochs_spin.setValue(8)
    settings.patience_spin.setValue(0)
    wizard.next()
    page = wizard.training_page
    qtbot.waitUntil(lambda: page.state == FINISHED, timeout=TRAIN_TIMEOUT_MS)
    assert wizard.result.config.strategy == "probe-features"
    assert page.loss_plot.point_count() == 16
    assert all(m.encoder_frozen for m in page.history)


STANDALONE = """
import time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.app import application
from gui.wizard import TrainWizard, open_wizard_standalone
application()  # the timer below needs the application's event loop
seen = []
def close_it():
    wizards = [w for w in QApplication.topLevelWidgets() if isinstance(w, TrainWizard) and w.isVisible()]
    seen.extend(wizards)
    for w in wizards:
        w.reject()
QTimer.singleShot(300, close_it)
started = time.monotonic()
code = open_wizard_standalone()
print("wizards", len(seen), "code", code, "seconds", round(time.monotonic() - started, 1))
"""


def test_sightline_train_without_a_folder_opens_the_wizard(tmp_path):
    """In a process of its own: it runs (and ends) the application's event loop."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SIGHTLINE_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", STANDALONE], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    assert words[:4] == ["wizards", "1", "code", "0"], proc.stdout + proc.stderr[-2000:]
    assert float(words[5]) < 30


def test_scratch_settings_follow_the_data(qtbot, wizard, tmp_path):
    from engine.train.synthetic import write_stripes

    write_stripes(tmp_path / "stripes", 40, seed=0)  # 96 training images of 64 px at 80%
    scan(qtbot, wizard, tmp_path / "stripes")
    wizard.data_page.val_spin.setValue(20)
    wizard.next()
    wizard.strategy_page.set_strategy("scratch")
    wizard.next()
    settings = wizard.settings_page
    assert settings.size_spin.value() == 64 and settings.epochs_spin.value() * 3 >= 300  # steps, not epochs
