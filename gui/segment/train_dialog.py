"""Tools ▸ Train segmenter…: a folder, its masks (a COCO file or the reviewed masks), a few
settings, then training on the window's device scheduler (never beside another model job) with progress, one line per epoch, "Stop and
keep best" and Cancel. The model is saved into the user models folder, where the model
picker lists it beside the detectors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout)

from engine.commands.train_segmenter import epoch_line
from engine.segment.data import find_annotations, load_coco
from engine.segment.model_file import save_segmenter
from engine.segment.train import SegmenterSettings, train_segmenter
from engine.train.checkpoint import default_model_path
from engine.types import CancelToken
from gui.wizard.memory import remember_segmenter
from gui.wizard.worker import BackgroundJob


def _read_data(folder: str, from_review: bool, settings: SegmenterSettings, cancel: CancelToken):
    if from_review:
        from engine.segment.review_source import load_review

        return load_review(folder, settings.image_size, cancel=cancel)
    return load_coco(find_annotations(folder), folder, settings.image_size, cancel=cancel)


def training_work(folder: str, from_review: bool, settings: SegmenterSettings):
    """The job's function: read the data, train, save; returns (saved path, summary)."""
    def work(job: BackgroundJob) -> tuple[str, str]:
        data = _read_data(folder, from_review, settings, job.cancel)
        result = train_segmenter(data, settings, cancel=job.cancel, stop=job.stop, progress=job.report_progress,
                                 on_epoch=lambda e: job.report_item(epoch_line(e)))
        path = save_segmenter(result.file, default_model_path(result.file.name))
        found = result.file.metrics
        return str(path), (f"best epoch {result.best_epoch} ({result.stop_reason}): mean IoU "
                           f"{found.get('mean_iou', float('nan')):.3f}, foreground IoU "
                           f"{found.get('foreground_iou', float('nan')):.3f}")
    return work


class SegmenterTrainingDialog(QDialog):
    saved = Signal(str)  # the new model file
    ended = Signal()  # a run finished, failed or was cancelled

    def __init__(self, parent=None, defaults: SegmenterSettings = SegmenterSettings()):
        super().__init__(parent)
        self.setWindowTitle("Train segmenter")
        self.defaults, self.job = defaults, None
        self.folder = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.from_review = QCheckBox("Use the masks accepted in the review (else the folder's COCO file)")
        self.epochs, self.image_size, self.minutes = QSpinBox(), QSpinBox(), QSpinBox()
        self.epochs.setRange(1, 1000), self.epochs.setValue(defaults.epochs)
        self.image_size.setRange(32, 2048), self.image_size.setSingleStep(32), self.image_size.setValue(defaults.image_size)
        self.minutes.setRange(0, 10_000), self.minutes.setSpecialValueText("no limit")
        self.name = QLineEdit()
        self.name.setPlaceholderText("the folder's name")
        self.bar, self.log, self.result = QProgressBar(), QPlainTextEdit(), QLabel()
        self.log.setReadOnly(True)
        self.buttons = QDialogButtonBox()
        self.start = self.buttons.addButton("Train", QDialogButtonBox.ButtonRole.ActionRole)
        self.keep = self.buttons.addButton("Stop and keep best", QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start.clicked.connect(self.train)
        self.keep.clicked.connect(lambda: self.job and self.job.request_stop())
        self.cancel.clicked.connect(self._cancel)
        self._layout(browse)
        self._running(False)

    def _layout(self, browse) -> None:
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        form.addRow("", self.from_review)
        form.addRow("Epochs", self.epochs)
        form.addRow("Working size (px)", self.image_size)
        form.addRow("Time limit (min)", self.minutes)
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.bar, self.log, self.result, self.buttons):
            layout.addWidget(widget)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Images and their masks", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _running(self, running: bool) -> None:
        self.start.setEnabled(not running)
        self.keep.setEnabled(running)

    def settings(self) -> SegmenterSettings:
        name = self.name.text().strip() or Path(self.folder.text()).name or "segmenter"
        return replace(self.defaults, epochs=self.epochs.value(), image_size=self.image_size.value(),
                       max_minutes=self.minutes.value() or None, name=name)

    def train(self) -> None:
        if not Path(self.folder.text()).is_dir():
            self.result.setText(f"Not a folder: {self.folder.text() or '(none chosen)'}")
            return
        self.log.clear()
        self.result.setText("")
        job = BackgroundJob(training_work(self.folder.text(), self.from_review.isChecked(), self.settings()),
                            "train-segmenter", self)
        job.progress.connect(lambda p: self._progress(p.done, p.total, p.message))
        job.item.connect(self.log.appendPlainText)
        job.succeeded.connect(lambda found: self._finished(*found))
        job.failed.connect(lambda error: self._failed(error.message))
        job.cancelled.connect(lambda: self._failed("cancelled: nothing was saved"))
        self.job = job
        self._running(True)
        job.start(on_device=True)

    def _progress(self, done: int, total: int, message: str) -> None:
        self.bar.setMaximum(max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"{message}  %p%")

    def _end(self) -> None:
        self.job = None
        self._running(False)
        self.ended.emit()

    def _finished(self, path: str, summary: str) -> None:
        self._end()
        self.result.setText(f"{summary}. Saved as {path}; choose it in the Model list.")
        self.saved.emit(path)

    def _failed(self, reason: str) -> None:
        self._end()
        self.result.setText(f"Not trained: {reason}")

    def _cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.request_cancel()
            return
        self.reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.job is not None and self.job.running:
            self.job.request_cancel()  # never waited for: it stops at its next step
        super().closeEvent(event)


def open_training_dialog(window, defaults: SegmenterSettings = SegmenterSettings()) -> SegmenterTrainingDialog:
    """The dialog, non-modal; a saved model is listed in the model picker at once."""
    dialog = SegmenterTrainingDialog(window, defaults)
    remember_segmenter(dialog)  # opens with the last settings (gui/wizard/memory.py)
    dialog.saved.connect(lambda _path: window.model_panel.refresh())
    dialog.show()
    window.segmenter_dialog = dialog
    return dialog


def install(window) -> QAction:
    """Tools ▸ Train segmenter… in `window` (a MainWindow)."""
    action = QAction("Train &segmenter…", window)
    action.triggered.connect(lambda: open_training_dialog(window))
    window.menu("Tools").insertAction(window.actions_["import_weights"], action)
    window.segmenter_dialog = None
    return action
