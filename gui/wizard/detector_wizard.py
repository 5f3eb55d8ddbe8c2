"""Training starts with a choice: a classifier from class folders (the classifier wizard) or a
detector from reviewed images / a COCO folder (`DetectorWizard`: data -> training -> results).

    open_training(parent, device)   # asks which, then shows that wizard; returns it

Closing the detector wizard while it trains cancels the training (nothing is written unless
the user saved; saving is atomic).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from gui.wizard.common import fit_to_screen
from gui.wizard.memory import remember_detector
from gui.wizard.detector_pages import (
    DetectorDataPage,
    DetectorResultsPage,
    DetectorTrainingPage,
)

CLASSIFIER, DETECTOR = "classifier", "detector"


class DetectorWizard(QWizard):
    """Fine-tune a detector. `detectorSaved(path)` once the model file is in place."""

    detectorSaved = Signal(str)

    def __init__(self, parent: QWidget | None = None, folder: str = "", device: str = "auto"):
        super().__init__(parent)
        self.setWindowTitle("Train a detector - Sightline")
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.data_page = DetectorDataPage(folder)
        self.training_page = DetectorTrainingPage(device)
        self.results_page = DetectorResultsPage()
        for page in (self.data_page, self.training_page, self.results_page):
            self.addPage(page)
        fit_to_screen(self, 1000, 760)
        remember_detector(self, folder_given=bool(folder))  # opens with the last settings

    def done(self, code: int) -> None:
        for job in (self.data_page.job, self.training_page.job):
            if job is not None:
                job.request_cancel()
        super().done(code)


class TrainingChoice(QDialog):
    """The first page: what to train."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train - Sightline")
        self.classifier = QRadioButton("Classifier from class folders")
        self.detector = QRadioButton("Detector from reviewed images / a COCO folder")
        self.classifier.setChecked(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("What do you want to train?"))
        layout.addWidget(self.classifier)
        layout.addWidget(QLabel("    a ResNet that labels images or detections, from FOLDER/<class>/ images"))
        layout.addWidget(self.detector)
        layout.addWidget(QLabel("    fine-tune a detector on the detections you accepted and relabelled"))
        layout.addWidget(buttons)

    @property
    def choice(self) -> str:
        return DETECTOR if self.detector.isChecked() else CLASSIFIER


def make_wizard(choice: str, parent: QWidget | None = None, device: str = "auto", folder: str = ""):
    """The wizard for `choice` (not shown yet)."""
    if choice == DETECTOR:
        return DetectorWizard(parent, folder, device)
    from gui.wizard.wizard import TrainWizard

    return TrainWizard(parent, folder=folder or None, device=device)


def open_training(parent: QWidget | None = None, device: str = "auto", folder: str = ""):
    """Ask what to train, then show that wizard; None when the choice was cancelled."""
    dialog = TrainingChoice(parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    wizard = make_wizard(dialog.choice, parent, device, folder)
    wizard.show()
    return wizard
