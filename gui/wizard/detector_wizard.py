"""Training starts with a choice: a classifier from class folders or a detector from reviewed
images / a COCO folder. The window's training wizard (`TrainWizard(choose=True)`) opens on
that choice page (`add_training_choice`); the detector path's pages are the ones
`DetectorWizard` shows on their own (Tools ▸ Train detector…): data -> training -> results.

Closing either wizard while it trains cancels the training (nothing is written unless the
user saved; saving is atomic).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QRadioButton, QVBoxLayout, QWidget, QWizard, QWizardPage

from gui.layout import fit_to_screen
from gui.wizard.memory import remember_detector
from gui.wizard.detector_pages import (
    DetectorDataPage,
    DetectorResultsPage,
    DetectorTrainingPage,
)

CLASSIFIER, DETECTOR = "classifier", "detector"
# page ids in the window's training wizard (the classifier path's are 0..4)
PAGE_CHOICE, PAGE_DETECTOR_DATA, PAGE_DETECTOR_TRAINING, PAGE_DETECTOR_RESULTS = 10, 11, 12, 13


def detector_pages(device: str, folder: str, saved) -> tuple[DetectorDataPage, DetectorTrainingPage,
                                                             DetectorResultsPage]:
    """The detector path's three pages; `saved(path)` once a model file is written."""
    data = DetectorDataPage(folder)
    training = DetectorTrainingPage(data, device)
    return data, training, DetectorResultsPage(training, saved)


class DetectorWizard(QWizard):
    """Fine-tune a detector. `detectorSaved(path)` once the model file is in place."""

    detectorSaved = Signal(str)

    def __init__(self, parent: QWidget | None = None, folder: str = "", device: str = "auto"):
        super().__init__(parent)
        self.setWindowTitle("Train a detector - Sightline")
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.data_page, self.training_page, self.results_page = detector_pages(device, folder, self.detectorSaved.emit)
        for page in (self.data_page, self.training_page, self.results_page):
            self.addPage(page)
        fit_to_screen(self, 1000, 760)
        remember_detector(self, folder_given=bool(folder))  # opens with the last settings

    def done(self, code: int) -> None:
        for job in (self.data_page.job, self.training_page.job):
            if job is not None:
                job.request_cancel()
        super().done(code)


class TrainingChoicePage(QWizardPage):
    """The first page: what to train. Next goes down the chosen path."""

    def __init__(self, classifier_start: int, detector_start: int):
        super().__init__()
        self.setTitle("What do you want to train?")
        self.starts = {CLASSIFIER: classifier_start, DETECTOR: detector_start}
        self.classifier = QRadioButton("Classifier from class folders")
        self.detector = QRadioButton("Detector from reviewed images / a COCO folder")
        self.classifier.setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.classifier)
        layout.addWidget(QLabel("    a ResNet that labels images or detections, from FOLDER/<class>/ images"))
        layout.addWidget(self.detector)
        layout.addWidget(QLabel("    fine-tune a detector on the detections you accepted and relabelled, or on "
                                "a COCO instances file"))
        layout.addStretch(1)

    @property
    def choice(self) -> str:
        return DETECTOR if self.detector.isChecked() else CLASSIFIER

    def nextId(self) -> int:  # noqa: N802 - Qt API
        return self.starts[self.choice]


def add_training_choice(wizard: QWizard, classifier_start: int, device: str, folder: str = "") -> None:
    """Put the choice page first in the classifier `wizard` and the detector path after it
    (as wizard.choice_page, .detector_data_page, .detector_training_page, .detector_results_page);
    a saved detector is announced by the wizard's `detectorSaved(path)`."""
    wizard.choice_page = TrainingChoicePage(classifier_start, PAGE_DETECTOR_DATA)
    pages = detector_pages(device, folder, wizard.detectorSaved.emit)
    wizard.detector_data_page, wizard.detector_training_page, wizard.detector_results_page = pages
    wizard.setPage(PAGE_CHOICE, wizard.choice_page)
    for page_id, page in zip((PAGE_DETECTOR_DATA, PAGE_DETECTOR_TRAINING, PAGE_DETECTOR_RESULTS), pages):
        wizard.setPage(page_id, page)
    wizard.setStartId(PAGE_CHOICE)
    wizard.setWindowTitle("Train - Sightline")
