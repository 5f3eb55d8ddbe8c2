"""The training wizard: folder -> strategy and backbone -> augmentation and settings -> training
-> results, name and save. Pages keep their own widgets; the wizard holds what they share (the
data report, the trained result) and builds the TrainConfig from them.

Closing the wizard while background work runs cancels it and closes once the work has
stopped (one batch at most); nothing is written unless the user saved, and saving itself is
atomic, so a closed or crashed wizard never leaves half a model behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from engine.train import strategies as S
from engine.train.dataset import DatasetReport
from engine.train.pipeline import TrainConfig
from gui.layout import fit_to_screen
from gui.wizard.memory import remember_classifier
from gui.wizard.pages_data import DataPage
from gui.wizard.pages_results import ResultsPage
from gui.wizard.pages_settings import SettingsPage
from gui.wizard.pages_strategy import StrategyPage
from gui.wizard.pages_training import TrainingPage
from gui.wizard.worker import BackgroundJob, live_jobs

PAGE_DATA, PAGE_STRATEGY, PAGE_SETTINGS, PAGE_TRAINING, PAGE_RESULTS = range(5)


class TrainWizard(QWizard):
    """Train a ResNet classifier on a folder of labelled images. `classifierSaved(path)` is
    emitted once the model file is in place (the main window adds it to its model list)."""

    classifierSaved = Signal(str)  # noqa: N815 - Qt signal naming
    detectorSaved = Signal(str)  # noqa: N815 - with choose=True: a detector's model file is in place

    def __init__(self, parent: Optional[QWidget] = None, folder: Optional[str | os.PathLike] = None,
                 device: str = "auto", choose: bool = False, detector_folder: str = ""):  # fmt: skip
        super().__init__(parent)
        self.report: Optional[DatasetReport] = None
        self.result = None  # engine.train.TrainResult, in memory until saved
        self.confirm_discard = True  # ask before closing with an unsaved classifier
        self._closing_code: Optional[int] = None
        self.setWindowTitle("Train a classifier - Sightline")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoDefaultButton, True)
        self.data_page = DataPage()
        self.strategy_page = StrategyPage()
        self.settings_page = SettingsPage(device=device)
        self.training_page = TrainingPage()
        self.results_page = ResultsPage()
        for page_id, page in ((PAGE_DATA, self.data_page), (PAGE_STRATEGY, self.strategy_page),
                              (PAGE_SETTINGS, self.settings_page), (PAGE_TRAINING, self.training_page),
                              (PAGE_RESULTS, self.results_page)):  # fmt: skip
            self.setPage(page_id, page)
        self.setButtonText(QWizard.WizardButton.NextButton, "Next >")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Finish")
        self.setMinimumSize(900, 640)
        fit_to_screen(self, 1100, 800)
        remember_classifier(self, folder_given=bool(folder))  # opens with the last settings
        if folder:
            self.data_page.set_folder(folder)
        if choose:  # first page: a classifier (these pages) or a detector (gui.wizard.detector_wizard)
            from gui.wizard.detector_wizard import add_training_choice

            add_training_choice(self, PAGE_DATA, device, detector_folder)

    # -- shared state -------------------------------------------------------------------------

    def set_report(self, report: Optional[DatasetReport]) -> None:
        self.report = report
        self.result = None

    def config(self) -> TrainConfig:
        """The TrainConfig the pages describe (not yet resolved: `.resolved()` checks it)."""
        strategy = self.strategy_page
        allow_download = strategy.download_check.isChecked() and S.uses_imagenet(strategy.strategy)
        return TrainConfig(
            strategy=strategy.strategy, backbone=strategy.backbone,
            warm_start_epochs=strategy.warm_start_epochs(), layer_decay=strategy.layer_decay(),
            allow_download=allow_download, **self.settings_page.values(),
        )  # fmt: skip

    def notify_saved(self, path: Path) -> None:
        self.classifierSaved.emit(str(path))

    @property
    def saved_path(self) -> Optional[Path]:
        return self.results_page.saved_path

    # -- closing ------------------------------------------------------------------------------

    def _owns(self, obj: Optional[QObject]) -> bool:
        try:
            while obj is not None:
                if obj is self:
                    return True
                obj = obj.parent()
        except RuntimeError:  # a widget of a wizard that is gone
            return False
        return False

    def busy_jobs(self) -> list[BackgroundJob]:
        """Background work started by this wizard that has not ended yet."""
        return [job for job in live_jobs() if self._owns(job.owner)]

    def done(self, code: int) -> None:
        jobs = self.busy_jobs()
        if jobs:  # cancel, and close as soon as the work has noticed (never block the GUI)
            if self._closing_code is None:
                self._closing_code = code
                for job in jobs:
                    job.request_cancel()
                    job.finished.connect(self._finish_closing)
                self.setWindowTitle("Stopping... - Sightline")
                for button in (QWizard.WizardButton.BackButton, QWizard.WizardButton.NextButton,
                               QWizard.WizardButton.CancelButton, QWizard.WizardButton.FinishButton):  # fmt: skip
                    self.button(button).setEnabled(False)
            return
        if code == QWizard.DialogCode.Rejected and not self._discard_ok():
            return
        self._closing_code = None
        if self.results_page.dialog is not None:
            self.results_page.dialog.close()
        super().done(code)

    def _finish_closing(self) -> None:
        if self._closing_code is not None and not self.busy_jobs():
            code, self._closing_code = self._closing_code, None
            self.result = None  # cancelled: nothing is kept
            self.confirm_discard = False
            self.done(code)

    def _discard_ok(self) -> bool:
        if self.result is None or self.saved_path is not None or not self.confirm_discard or not self.isVisible():
            return True
        answer = QMessageBox.question(self, "Discard the classifier?",
                                      "The trained classifier has not been saved. Close and discard it?",
                                      QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)  # fmt: skip
        return answer == QMessageBox.StandardButton.Discard
