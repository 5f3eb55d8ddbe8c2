"""Step 1: the folder of labelled images, checked in the background, and the data report:
classes, images per class per split, unreadable images, duplicates across splits, imbalance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from engine.train.dataset import DEFAULT_VAL_FRACTION, DatasetReport
from gui.wizard.common import Banner, dim_label, escape
from gui.wizard.worker import BackgroundJob, JobError

IMBALANCE_WARNING = 3.0  # largest / smallest class above this: suggest class-balanced sampling
ALL_CLEAR = "No problems found: every image could be read, no duplicates across splits."


class DataPage(QWizardPage):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setTitle("Training images")
        self.setSubTitle("Choose a folder with one sub-folder of images per class (or train/ and val/ "
                         "folders, each with one sub-folder per class). Every image is opened once to check it.")  # fmt: skip
        self.report: Optional[DatasetReport] = None
        self._job: Optional[BackgroundJob] = None

        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Folder of class sub-folders, e.g. ~/data/flowers")
        self.folder_edit.returnPressed.connect(self.scan)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self._browse)
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(5, 50)
        self.val_spin.setDecimals(0)
        self.val_spin.setSuffix(" %")
        self.val_spin.setValue(DEFAULT_VAL_FRACTION * 100)
        self.val_spin.setToolTip("Share of each class kept aside for validation when the folder is split here "
                                 "(ignored when the folder has train/ and val/ sub-folders)")  # fmt: skip
        self.check_button = QPushButton("Check folder")
        self.check_button.setDefault(False)
        self.check_button.clicked.connect(self.scan)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        row.addSpacing(12)
        row.addWidget(QLabel("Validation"))
        row.addWidget(self.val_spin)
        row.addWidget(self.check_button)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Stop checking")
        self.cancel_button.clicked.connect(self.cancel_scan)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_box.hide()

        self.message = Banner()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Class", "Training", "Validation", "Total"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.issues = QTreeWidget()
        self.issues.setHeaderLabels(["Problems found", "Details"])
        self.issues.setRootIsDecorated(True)
        self.issues.setWordWrap(True)  # a long warning wraps (paths, which cannot, have tooltips)
        self.issues.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.issues.setColumnWidth(0, 300)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.issues)
        splitter.setSizes([380, 520])
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addWidget(dim_label("Images are never changed; unreadable files are left out of training."))

    # -- QWizardPage --------------------------------------------------------------------------

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.report is not None and self._job is None

    def validatePage(self) -> bool:  # noqa: N802 - Qt name; QWizard.next() skips isComplete
        return self.isComplete()

    # -- scanning -----------------------------------------------------------------------------

    def set_folder(self, folder: str | os.PathLike, scan: bool = True) -> None:
        self.folder_edit.setText(str(folder))
        if scan:
            self.scan()

    def _browse(self) -> None:
        start = self.folder_edit.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder of labelled images", start)
        if folder:
            self.set_folder(folder)

    def scan(self) -> None:
        """Check the folder in the edit box in the background; the report replaces the old one."""
        folder = os.path.expanduser(self.folder_edit.text().strip())
        if not folder:
            self.message.show_message("Choose a folder first.", "warning")
            return
        self.cancel_scan()
        self._set_report(None)
        val_fraction, seed = self.val_spin.value() / 100.0, 0

        def work(job: BackgroundJob) -> DatasetReport:
            from engine.train.dataset import scan_dataset

            return scan_dataset(folder, val_fraction, seed, progress=job.report_progress, cancel=job.cancel)

        job = BackgroundJob(work, "scan", self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_report)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self._job = job
        self.message.show_message(f"Checking the images in {escape(folder)}...", "info")
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.check_button.setEnabled(False)
        self.completeChanged.emit()
        job.start()

    def cancel_scan(self) -> None:
        if self._job is not None:
            self._job.request_cancel()
            self._finish_job()
            self.message.show_message("Checking stopped: choose the folder again to check it.", "warning")

    def _finish_job(self) -> None:
        self._job = None
        self.progress_box.hide()
        self.check_button.setEnabled(True)
        self.completeChanged.emit()

    def _current(self) -> bool:
        """Whether the signal being handled comes from the scan this page still waits for."""
        return self._job is not None and self.sender() is self._job

    def _on_progress(self, progress) -> None:
        if not self._current():
            return
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)
        self.progress.setFormat(f"{progress.message}: {progress.done} of {progress.total}")

    def _on_report(self, report: DatasetReport) -> None:
        if not self._current():
            return  # an older scan that was replaced
        self._finish_job()
        self.message.clear_message()
        self._set_report(report)

    def _on_failed(self, error: JobError) -> None:
        if not self._current():
            return
        self._finish_job()
        self.message.show_message(f"<b>This folder cannot be trained on yet.</b><br>{escape(error.message)}", "error")

    def _on_cancelled(self) -> None:
        if self._current():
            self._finish_job()

    # -- the report ---------------------------------------------------------------------------

    def _set_report(self, report: Optional[DatasetReport]) -> None:
        self.report = report
        wizard = self.wizard()
        if wizard is not None and hasattr(wizard, "set_report"):
            wizard.set_report(report)
        self.table.setRowCount(0)
        self.issues.clear()
        self.issues.show()
        self.summary.setText("")
        if report is None:
            self.completeChanged.emit()
            return
        self._fill_table(report)
        self._fill_issues(report)
        self.summary.setText(self._summary_html(report))
        self.completeChanged.emit()

    def _summary_html(self, report: DatasetReport) -> str:
        how = (f"split here: {report.val_fraction:.0%} of each class for validation"
               if report.layout == "class-folders" else "train/ and val/ folders used as given")  # fmt: skip
        imbalance = report.imbalance
        note = ""
        if imbalance > IMBALANCE_WARNING:
            note = (" <span style='color:#ffcf70'>(uneven: consider class-balanced sampling in step 3)</span>")
        return (f"<b>{len(report.class_names)} classes</b>, {len(report.train)} training and "
                f"{len(report.val)} validation images ({how}). Smallest class: "
                f"<b>{report.min_train_per_class}</b> training images. Imbalance (largest / smallest class): "
                f"<b>{imbalance:.1f}</b>{note}")  # fmt: skip

    def _fill_table(self, report: DatasetReport) -> None:
        counts = report.counts()
        self.table.setRowCount(len(counts) + 1)
        smallest = report.min_train_per_class
        for row, (name, c) in enumerate(counts.items()):
            values = [name, c["train"], c["val"], c["train"] + c["val"]]
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 1 and c["train"] == smallest:
                    item.setForeground(QBrush(QColor("#ffcf70")))
                    item.setToolTip("the smallest class: it decides the recommended strategy")
                if column == 2 and c["val"] == 0:
                    item.setForeground(QBrush(QColor("#ff8a8a")))
                    item.setToolTip("no validation images: this class's accuracy cannot be measured")
                self.table.setItem(row, column, item)
        totals = ["All classes", len(report.train), len(report.val), len(report.train) + len(report.val)]
        for column, value in enumerate(totals):
            item = QTableWidgetItem(str(value))
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(len(counts), column, item)

    def _fill_issues(self, report: DatasetReport) -> None:
        groups = [
            (f"Unreadable images, left out ({len(report.unreadable)})", [(f.path, f.reason) for f in report.unreadable]),
            (f"Same image in training and validation ({len(report.duplicates)})",
             [(val, f"also in training: {train}") for train, val in report.duplicates]),
            (f"Warnings ({len(report.warnings)})", [(w, "") for w in report.warnings]),
        ]  # fmt: skip
        if report.skipped_files:
            groups.append((f"Files that are not images, skipped ({report.skipped_files})", []))
        for title, rows in groups:
            if not rows and "skipped" not in title:
                continue
            top = QTreeWidgetItem([title, ""])
            top.setForeground(0, QBrush(QColor("#ffcf70")))
            self.issues.addTopLevelItem(top)
            for path, detail in rows:
                child = QTreeWidgetItem([path, detail])
                child.setToolTip(0, path)
                child.setToolTip(1, detail)
                top.addChild(child)
                child.setFirstColumnSpanned(not detail)  # a warning alone gets the whole width
            top.setExpanded(len(rows) <= 20)
        clear = self.issues.topLevelItemCount() == 0
        self.issues.setVisible(not clear)  # the all-clear is a note of its own, wrapped, never cut
        if clear:
            self.message.show_message(ALL_CLEAR, "ok")
