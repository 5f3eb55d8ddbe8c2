"""File > Import results…: a COCO results file (from `sightline detect --out`, on a cluster or
elsewhere) read into the review store by `engine.import_results`, then its images listed with
the file's model, so the review goes on without running the model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.import_results import ImportReport, import_results
from engine.models import REGISTRY


class ResultsImport(QObject):
    """The menu entry and what follows it; the import itself runs in the window's task pool."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.last_report: Optional[ImportReport] = None
        self.action = QAction("Import &results…", window)
        self.action.setObjectName("import_results")
        self.action.setStatusTip("Review detections from a COCO results file (e.g. a cluster run) without "
                                 "running the model")
        self.action.triggered.connect(self.choose)
        window.menu("File").insertAction(window.actions_["export"], self.action)

    def choose(self) -> None:
        folder = str(self.window.settings.value("last_folder", os.path.expanduser("~")))
        file, _ = QFileDialog.getOpenFileName(self.window, "Import results", folder,
                                              "COCO results (*.json);;All files (*)")
        if file:
            self.start(file)

    def start(self, file: str) -> None:
        self.window.status.showMessage(f"Importing {Path(file).name}…")
        self.window.pool.submit(
            import_results, file, self.window.store, with_cancel=True, on_done=self._imported,
            on_error=lambda m: QMessageBox.warning(self.window, "Cannot import these results", str(m)),
            on_progress=lambda p: self.window.status.showMessage(f"Importing results: {p.done:,}/{p.total:,}"))

    def _imported(self, report: ImportReport) -> None:
        self.last_report = report
        if report.model != self.window.controller.model and report.model in REGISTRY:
            self.window.controller.set_model(report.model)
        else:  # images listed already show what the store held before the import
            self.window.controller.reload_from_store(report.paths)
        self.window.add_paths(report.paths)
        note = f"Imported {report.detections:,} detections of {report.images:,} images ({report.model})"
        if report.failures:
            note += f"; {len(report.failures):,} not imported, e.g. {report.failures[0].path}: {report.failures[0].reason}"
        self.window.status.showMessage(note, 15_000)
