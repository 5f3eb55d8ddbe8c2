"""Step 5: how good the classifier is on the validation images (accuracy, per class, confusion
matrix whose cells open the misclassified images), then name and save it. Saving is atomic
(engine.train.checkpoint) and only then is `classifierSaved(path)` emitted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from gui.wizard.common import Banner, dim_label, escape, heading_label
from gui.wizard.misclassified import MisclassifiedDialog
from gui.wizard.worker import BackgroundJob, JobError


def _accuracy_colour(value: Optional[float]) -> QColor:
    if value is None:
        return QColor("#8a9099")
    if value >= 0.9:
        return QColor("#8fdca8")
    return QColor("#ffcf70") if value >= 0.7 else QColor("#ff9a9a")


def _cell_colour(count: int, row_total: int, diagonal: bool) -> QColor:
    share = count / row_total if row_total else 0.0
    if count == 0:
        return QColor("#1d1f22")
    base, top = (QColor("#1e3d2b"), QColor("#2f8f5b")) if diagonal else (QColor("#3f2226"), QColor("#b8454f"))
    mix = 0.25 + 0.75 * share
    return QColor(*(round(a + (b - a) * mix) for a, b in zip(base.getRgb()[:3], top.getRgb()[:3])))


class ResultsPage(QWizardPage):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setTitle("Results")
        self.setSubTitle("Measured on the validation images, with the weights of the best epoch. "
                         "Click a red cell to see the images that were mistaken.")  # fmt: skip
        self.dialog: Optional[MisclassifiedDialog] = None
        self._save_job: Optional[BackgroundJob] = None
        self.saved_path: Optional[Path] = None
        self._saved_result = None  # the TrainResult that saved_path holds

        self.accuracy_label = heading_label("")
        self.detail_label = dim_label()
        self.per_class = QTableWidget(0, 3)
        self.per_class.setHorizontalHeaderLabels(["Class", "Validation images", "Accuracy"])
        self.per_class.verticalHeader().hide()
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.per_class.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.per_class.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.confusion = QTableWidget(0, 0)
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.confusion.cellClicked.connect(self.open_cell)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion_hint = dim_label("Rows: the true class. Columns: what the classifier said.")

        per_class_box = QGroupBox("Accuracy per class")
        QVBoxLayout(per_class_box).addWidget(self.per_class)
        confusion_box = QGroupBox("Confusion matrix")
        confusion_layout = QVBoxLayout(confusion_box)
        confusion_layout.addWidget(self.confusion, 1)
        confusion_layout.addWidget(self.confusion_hint)
        tables = QHBoxLayout()
        tables.addWidget(per_class_box, 2)
        tables.addWidget(confusion_box, 3)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("A name you will recognise in the model list")
        self.name_edit.textChanged.connect(lambda *_: self._sync_save())
        self.save_button = QPushButton("Save classifier")
        self.save_button.clicked.connect(self.save)
        self.save_message = Banner()
        self.folder_label = dim_label()
        save_box = QGroupBox("Name and save")
        save_layout = QVBoxLayout(save_box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.save_button)
        save_layout.addLayout(row)
        save_layout.addWidget(self.folder_label)
        save_layout.addWidget(self.save_message)

        layout = QVBoxLayout(self)
        layout.addWidget(self.accuracy_label)
        layout.addWidget(self.detail_label)
        layout.addLayout(tables, 1)
        layout.addWidget(save_box)

    # -- QWizardPage --------------------------------------------------------------------------

    def nextId(self) -> int:  # noqa: N802 - Qt name
        return -1  # the last page, whatever other paths the wizard has (the detector's)

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        result = self.wizard().result
        if result is not self._saved_result:  # a new result (coming back to a saved one keeps it saved)
            self.saved_path, self._saved_result = None, None
            self.save_message.clear_message()
            self.name_edit.setEnabled(True)
            self.name_edit.setText(result.checkpoint.name)
        from engine.weights import user_models_dir

        self.folder_label.setText(f"Saved into {user_models_dir()} (the app's model list).")
        self._show(result)
        self._sync_save()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt name
        if self.dialog is not None:
            self.dialog.close()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.saved_path is not None and self._save_job is None

    # -- showing the results ------------------------------------------------------------------

    def _show(self, result) -> None:
        r, fit = result.results, result.fit
        self.accuracy_label.setText(f"Validation accuracy {r.accuracy:.1%}")
        wrong = int(r.confusion.sum() - r.confusion.trace())
        self.detail_label.setText(
            f"{int(r.confusion.sum())} validation images, {wrong} mistaken. Best epoch {fit.best_epoch} of "
            f"{len(fit.history)} ({fit.stop_reason}); {result.config.backbone}, {result.config.strategy}, "
            f"{result.config.image_size} px; trained in {result.seconds:.0f} s.")  # fmt: skip
        names = r.class_names
        self.per_class.setRowCount(len(names))
        for row, name in enumerate(names):
            accuracy = r.per_class_accuracy.get(name)
            cells = [name, str(int(r.confusion[row].sum())), "n/a" if accuracy is None else f"{accuracy:.1%}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 2:
                    item.setForeground(QBrush(_accuracy_colour(accuracy)))
                self.per_class.setItem(row, column, item)
        self.confusion.clear()
        self.confusion.setRowCount(len(names))
        self.confusion.setColumnCount(len(names))
        self.confusion.setHorizontalHeaderLabels([f"said {n}" for n in names])
        self.confusion.setVerticalHeaderLabels([f"is {n}" for n in names])
        for row, true in enumerate(names):
            total = int(r.confusion[row].sum())
            for column, predicted in enumerate(names):
                count = int(r.confusion[row, column])
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(QBrush(_cell_colour(count, total, row == column)))
                if row != column and count:
                    item.setToolTip(f"{count} '{true}' image(s) taken for '{predicted}': click to see them")
                elif row == column:
                    item.setToolTip(f"{count} of {total} '{true}' images recognised")
                self.confusion.setItem(row, column, item)

    def open_cell(self, row: int, column: int) -> Optional[MisclassifiedDialog]:
        """Show the images of true class `row` taken for class `column` (off-diagonal cells)."""
        result = self.wizard().result
        if result is None or row == column:
            return None
        names = result.results.class_names
        paths = result.results.misclassified.get((names[row], names[column]), [])
        if not paths:
            return None
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = MisclassifiedDialog(names[row], names[column], paths, self, result.checkpoint)
        self.dialog.show()
        return self.dialog

    # -- saving -------------------------------------------------------------------------------

    def _sync_save(self) -> None:
        self.save_button.setEnabled(self.saved_path is None and self._save_job is None
                                    and bool(self.name_edit.text().strip()))  # fmt: skip

    def save(self) -> None:
        wizard = self.wizard()
        result, name = wizard.result, self.name_edit.text().strip()
        if result is None or not name or self._save_job is not None or self.saved_path is not None:
            return
        checkpoint = replace(result.checkpoint, name=name)

        def work(job: BackgroundJob) -> Path:
            from engine.train.checkpoint import save_classifier

            return save_classifier(checkpoint)  # a temporary file renamed into place

        job = BackgroundJob(work, "save", self)
        job.succeeded.connect(self._on_saved)
        job.failed.connect(self._on_save_failed)
        self._save_job = job
        self.name_edit.setEnabled(False)
        self.save_message.show_message("Saving...", "info")
        self._sync_save()
        self.completeChanged.emit()
        job.start()

    def _on_saved(self, path: Path) -> None:
        self._save_job = None
        self.saved_path, self._saved_result = Path(path), self.wizard().result
        self.save_message.show_message(f"Saved as <b>{escape(str(path))}</b>. It is in the model list now; "
                                       "Finish closes the wizard.", "ok")  # fmt: skip
        self._sync_save()
        self.completeChanged.emit()
        self.wizard().notify_saved(self.saved_path)

    def _on_save_failed(self, error: JobError) -> None:
        self._save_job = None
        self.name_edit.setEnabled(True)
        self.save_message.show_message(f"<b>Not saved:</b> {escape(error.message)}", "error")
        self._sync_save()
        self.completeChanged.emit()
