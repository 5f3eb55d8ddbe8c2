"""The window's file dialogs and what follows them: opening images and folders, importing
model weights, exporting. The heavy part of each runs through `gui.work.WorkPool`."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from engine.images import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from gui.export_dialog import ExportDialog
from engine.review.exporting import ExportReport, ExportRequest, export_results
from gui.review.image_list import DONE


class WindowIO(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.last_export: Optional[ExportReport] = None
        self.export_task = None

    @property
    def _folder(self) -> str:
        return str(self.window.settings.value("last_folder", os.path.expanduser("~")))

    def _remember(self, folder: str) -> None:
        self.window.settings.setValue("last_folder", folder)

    def open_images(self) -> None:
        pattern = ("Images and videos (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
                   + ");;All files (*)")
        files, _ = QFileDialog.getOpenFileNames(self.window, "Open images", self._folder, pattern)
        if files:
            self._remember(os.path.dirname(files[0]))
            self.window.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open folder (sub-folders included)", self._folder)
        if folder:
            self._remember(os.path.dirname(folder))
            self.window.add_paths([folder])

    # weights -----------------------------------------------------------------------------

    def import_weights(self, model: str = "") -> None:
        file, _ = QFileDialog.getOpenFileName(self.window, "Import model weights", self._folder,
                                              "PyTorch weights (*.pt *.pth);;All files (*)")
        if file:
            self.import_weights_file(file, model or None)

    def import_weights_file(self, file: str, model: Optional[str]) -> None:
        from engine.models import import_weights

        self.window.status.showMessage(f"Checking {os.path.basename(file)}…")
        self.window.pool.submit(import_weights, Path(file), model, on_done=self._imported,
                                on_error=self._import_failed)

    def _imported(self, answer) -> None:
        name, path = answer
        self.window.model_panel.refresh(select=name)
        self.window.status.showMessage(f"Weights for {name} installed at {path}", 10_000)
        if name == self.window.controller.model and self.window.controller.current_row >= 0:
            self.window.controller.open_row(self.window.controller.current_row)

    def _import_failed(self, error: BaseException) -> None:
        QMessageBox.warning(self.window, "Cannot import these weights", str(error))

    # export ------------------------------------------------------------------------------

    def export_dialog(self) -> ExportDialog:
        c = self.window.controller
        entries = self.window.images.entries()
        analysed = sum(1 for e in entries if e.state == DONE)
        first = os.path.dirname(entries[0].path) if entries else self._folder
        folder = Path(self.window.settings.value("export_folder", first))
        return ExportDialog([e.path for e in entries], analysed, c.model, c.filter.min_score,
                            c.filter.hidden_classes, folder, self.window)

    def export(self) -> None:
        if not len(self.window.images):
            self.window.status.showMessage("Nothing to export: open some images first", 5000)
            return
        dialog = self.export_dialog()
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_export(dialog.request())

    def start_export(self, request: ExportRequest) -> None:
        if not request.classifier_labels:  # the chosen classifier's labels go out with the detections
            classifier = self.window.classifier
            request = replace(request, classifier_labels=classifier.export_labels(), classifier=classifier.export_key())
        folder = request.destination if request.kind in ("images", "crops") else request.destination.parent
        self.window.settings.setValue("export_folder", str(folder))
        self.window.status.showMessage(f"Exporting to {request.destination}…")
        self.export_task = self.window.pool.submit(
            export_results, request, self.window.store, with_cancel=True, on_done=self._exported,
            on_error=lambda m: QMessageBox.warning(self.window, "Export failed", str(m)),
            on_progress=lambda p: self.window.status.showMessage(f"Exporting: {p.message} {p.done:,}/{p.total:,}"))

    def _exported(self, report: ExportReport) -> None:
        self.last_export = report
        notes = [f"Exported {report.detections:,} detections from {report.images:,} images to {report.destination}"]
        if report.not_analysed:
            notes.append(f"{report.not_analysed:,} not analysed left out")
        if report.failed:
            notes.append(f"{report.failed:,} failed left out")
        self.window.status.showMessage("; ".join(notes), 15_000)
