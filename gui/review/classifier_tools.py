"""The review window's classifier commands: Tools ▸ Train… (the wizard, one at a time,
non-modal; its first page chooses a classifier or a detector), the Classifier picker of the
model panel (listed in the background, the choice kept in QSettings, a newly saved classifier
added and chosen at once) and Review ▸
Apply classifier label(s). The labels themselves are `ClassifierLabels`' business."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt

from engine.classify import ClassifierInfo, classifier_info, list_user_classifiers
from engine.train.checkpoint import NotAClassifier
from engine.weights import user_models_dir
from gui.review.classify_all import ClassifyAll
from gui.wizard.detector_training import DetectorTraining

SETTINGS_KEY = "classifier"


def list_classifiers(also: str = "") -> list[ClassifierInfo]:
    """(Off the GUI thread.) The user's classifiers, plus the file `also` when it is a
    classifier kept somewhere else (e.g. saved outside the models folder)."""
    infos = list_user_classifiers()
    if also and os.path.isfile(also) and all(str(info.path) != also for info in infos):
        try:
            infos.append(classifier_info(also))
        except NotAClassifier:
            pass
    return infos


class ClassifierTools(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.labels = window.classifier
        self.wizard = None
        self.infos: dict[str, ClassifierInfo] = {}
        self.listed = False  # the picker has been filled at least once
        a = window.actions_
        a["train_classifier"].triggered.connect(self.open_wizard)
        self.detector_training = DetectorTraining(window)  # Tools > Train detector…
        self.classify_all = ClassifyAll(window)  # Review > Classify all images, the "Classifier says" filter
        a["apply_classifier"].triggered.connect(lambda: self._say(self.labels.apply_selected()))
        a["apply_classifier_all"].triggered.connect(self.confirm_apply_all)
        self.bulk_dialog = None
        window.model_panel.classifier_chosen.connect(self._chosen)
        self.labels.status.connect(lambda text: self._say(text))
        window.installEventFilter(self)  # the wizard closes with the window
        self.refresh(select=str(window.settings.value(SETTINGS_KEY, "") or ""))

    def _say(self, text: str) -> None:
        if text:
            self.window.status.showMessage(text, 10_000)

    def confirm_apply_all(self) -> None:
        """Shift+C: list what the classifier's labels would change; apply on Apply, as one undo step."""
        from gui.review.bulk_labels import BulkLabelDialog

        plan = self.labels.plan_all()
        if isinstance(plan, str):
            self._say(plan)
            return
        dialog = BulkLabelDialog(plan, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._say(self.labels.apply_plan(plan)))
        self.bulk_dialog = dialog
        dialog.open()

    # the picker --------------------------------------------------------------------------

    def refresh(self, select: Optional[str] = None) -> None:
        """Re-read the user's classifiers in the background; then choose `select` (a path)
        when given, else keep the current choice."""
        self.window.pool.submit(list_classifiers, select or "", on_done=lambda infos: self._listed(infos, select),
                                on_error=lambda m: self._say(f"Cannot list the classifiers in "
                                                             f"{user_models_dir()}: {m}"))

    def _listed(self, infos: list[ClassifierInfo], select: Optional[str]) -> None:
        self.infos = {str(info.path): info for info in infos}
        panel = self.window.model_panel
        wanted = panel.current_classifier() if select is None else select
        panel.set_classifiers(infos, wanted)  # says classifier_chosen when the choice changed
        self.labels.choose(self.infos.get(panel.current_classifier()))  # a rewritten file is seen too
        self.listed = True
        if select and panel.current_classifier() != select and select in self.infos:
            self._say(f"Cannot use {os.path.basename(select)}: {self.infos[select].error}")

    def _chosen(self, path: str) -> None:
        self.labels.choose(self.infos.get(path))
        self.window.settings.setValue(SETTINGS_KEY, path)

    # the wizard --------------------------------------------------------------------------

    def _wizard_alive(self) -> bool:
        try:
            return self.wizard is not None and self.wizard.isVisible()
        except RuntimeError:  # deleted on close
            self.wizard = None
            return False

    def open_wizard(self):
        """Show the training wizard; if it is open already, bring it to the front."""
        if self._wizard_alive():
            self.wizard.raise_()
            self.wizard.activateWindow()
            return self.wizard
        from gui.wizard import TrainWizard

        wizard = TrainWizard(self.window, device=self.window.controller.device, choose=True,
                             detector_folder=self.detector_training.folder())
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.classifierSaved.connect(self.on_classifier_saved)
        wizard.detectorSaved.connect(self.detector_training.on_saved)
        wizard.destroyed.connect(self._wizard_gone)
        self.wizard = wizard
        wizard.show()
        return wizard

    def _wizard_gone(self, *_args) -> None:
        self.wizard = None

    def on_classifier_saved(self, path: str) -> None:
        """A classifier was saved (by the wizard): list it and label detections with it."""
        self._say(f"Classifier saved to {path}; labelling detections with it")
        self.refresh(select=str(path))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if obj is self.window and event.type() == QEvent.Type.Close and self._wizard_alive():
            self.wizard.close()  # cancels its training, asks before dropping an unsaved classifier
        return False
