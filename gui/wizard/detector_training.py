"""Tools ▸ Train detector… in the review window: one detector wizard at a time (non-modal),
started on the folder of the current image; a saved detector is added to the model picker."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt

from gui.wizard.detector_wizard import DetectorWizard


class DetectorTraining(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.wizard = None
        window.actions_["train_detector"].triggered.connect(self.open_wizard)

    def folder(self) -> str:
        path = self.window.controller.current_path
        return os.path.dirname(str(path)) if path else ""

    def open_wizard(self) -> DetectorWizard:
        if self.wizard is not None:
            self.wizard.raise_()
            self.wizard.activateWindow()
            return self.wizard
        wizard = DetectorWizard(self.window, self.folder(), self.window.controller.device)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.detectorSaved.connect(self.on_saved)
        wizard.destroyed.connect(self._gone)
        self.wizard = wizard
        wizard.show()
        return wizard

    def _gone(self, *_args) -> None:
        self.wizard = None

    def on_saved(self, path: str) -> None:
        """List the new model in the picker (by its name in the user models folder)."""
        self.window.model_panel.refresh(select=Path(path).stem)
        self.window.status.showMessage(f"Detector saved to {path}; choose it in the Model list", 10_000)
