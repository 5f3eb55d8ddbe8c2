"""Tools ▸ Train segmenter…: a folder, its masks (a COCO file or the reviewed masks), a few
settings, then training on a thread of its own with progress, one line per epoch, "Stop and
keep best" and Cancel. The model is saved into the user models folder, where the model
picker lists it beside the detectors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout)

from engine.commands.train_segmenter import epoch_line
from engine.segment.data import DataError, find_annotations, load_coco
from engine.segment.model_file import save_segmenter
from engine.segment.train import SegmenterSettings, train_segmenter
from engine.train.checkpoint import default_model_path
from engine.types import CancelToken, Cancelled


class TrainingRun(QObject):
    """Reads the data and trains, on the thread it is moved to; reports through signals."""

    progress = Signal(int, int, str)
    epoch = Signal(str)
    finished = Signal(str, str)  # saved path, summary
    failed = Signal(str)

    def __init__(self, folder: str, from_review: bool, settings: SegmenterSettings):
        super().__init__()
        self.folder, self.from_review, self.settings = folder, from_review, settings
        self.cancel, self.stop = CancelToken(), CancelToken()

    def _data(self):
        if self.from_review:
            from engine.segment.review_source import load_review

            return load_review(self.folder, self.settings.image_size, cancel=self.cancel)
        return load_coco(find_annotations(self.folder), self.folder, self.settings.image_size, cancel=self.cancel)

    def run(self) -> None:
        try:
            data = self._data()
            result = train_segmenter(data, self.settings, cancel=self.cancel, stop=self.stop,
                                     progress=lambda p: self.progress.emit(p.done, p.total, p.message),
                                     on_epoch=lambda e: self.epoch.emit(epoch_line(e)))
            path = save_segmenter(result.file, default_model_path(result.file.name))
        except Cancelled:
            self.failed.emit("cancelled: nothing was saved")
        except (DataError, ValueError, OSError) as exc:
            self.failed.emit(str(exc))
        else:
            found = result.file.metrics
            self.finished.emit(str(path), f"best epoch {result.best_epoch} ({result.stop_reason}): mean IoU "
                               f"{found.get('mean_iou', float('nan')):.3f}, foreground IoU "
                               f"{found.get('foreground_iou', float('nan')):.3f}")


class SegmenterTrainingDialog(QDialog):
    saved = Signal(str)  # the new model file
    ended = Signal()  # a run finished, failed or was cancelled

    def __init__(self, parent=None, defaults: SegmenterSettings = SegmenterSettings()):
        super().__init__(parent)
        self.setWindowTitle("Train segmenter")
        self.defaults, self.thread_, self.run_ = defaults, None, None
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
        self.keep.clicked.connect(lambda: self.run_ and self.run_.stop.cancel())
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
        self.run_ = TrainingRun(self.folder.text(), self.from_review.isChecked(), self.settings())
        self.thread_ = QThread(self)
        self.run_.moveToThread(self.thread_)
        self.thread_.started.connect(self.run_.run)
        self.run_.progress.connect(self._progress)
        self.run_.epoch.connect(self.log.appendPlainText)
        self.run_.finished.connect(self._finished)
        self.run_.failed.connect(self._failed)
        self._running(True)
        self.thread_.start()

    def _progress(self, done: int, total: int, message: str) -> None:
        self.bar.setMaximum(max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"{message}  %p%")

    def _end(self) -> None:
        self.thread_.quit()
        self.thread_.wait()
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
        if self.run_ is not None and self.thread_ is not None and self.thread_.isRunning():
            self.run_.cancel.cancel()
            return
        self.reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.thread_ is not None and self.thread_.isRunning():
            self.run_.cancel.cancel()
            self.thread_.quit()
            self.thread_.wait()
        super().closeEvent(event)


def open_training_dialog(window, defaults: SegmenterSettings = SegmenterSettings()) -> SegmenterTrainingDialog:
    """The dialog, non-modal; a saved model is listed in the model picker at once."""
    dialog = SegmenterTrainingDialog(window, defaults)
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
