"""The detector wizard's pages: data (reviewed images or a COCO file, the data report),
training (live loss and held-out AP50 curves, time left, Cancel, Stop and keep best) and
results (held-out scores before and after, per class; name and save). All engine work runs in
`BackgroundJob`s; the pages only show what the jobs report."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from gui.wizard.common import Banner, dim_label, duration, escape
from gui.wizard.curves import TRAIN_COLOUR, VAL_COLOUR, CurvePlot
from gui.wizard.worker import BackgroundJob, JobError

AUTO_BASE = ""  # the base combo's first entry: the model the folder was reviewed with


def _mono(box: QPlainTextEdit) -> QPlainTextEdit:
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return box


def read_data(folder: str, coco: str, review: bool, progress=None, cancel=None):
    """The data the page asks for, images checked (runs in a job)."""
    from engine.train.detection_data import check_images, load_coco
    from engine.train.review_source import read_reviewed

    data = read_reviewed(folder) if review else load_coco(coco, folder or None)
    return check_images(data, progress, cancel)


class DetectorDataPage(QWizardPage):
    def __init__(self, folder: str = ""):
        super().__init__()
        self.setTitle("Detector: data")
        self.setSubTitle("Train from the images you reviewed (accepted and relabelled detections) or from a COCO file.")
        self.data = None
        self.job: BackgroundJob | None = None
        self.folder = QLineEdit(folder)
        self.folder.setPlaceholderText("folder of images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.from_review = QRadioButton("Reviewed images of this folder (review store)")
        self.from_coco = QRadioButton("A COCO instances file:")
        self.from_review.setChecked(True)
        self.coco = QLineEdit()
        self.coco.setPlaceholderText("annotations.json")
        self.base = QComboBox()
        self._fill_bases()
        self.check_button = QPushButton("Check data")
        self.check_button.clicked.connect(self.check)
        self.progress = QProgressBar()
        self.report = _mono(QPlainTextEdit())
        self.message = Banner()
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow(self.from_review)
        form.addRow(self.from_coco, self.coco)
        form.addRow("Start from", self.base)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.report, 1)
        for edit in (self.folder, self.coco):
            edit.textChanged.connect(self._forget)
        self.from_coco.toggled.connect(self._forget)

    def _fill_bases(self) -> None:
        from engine.models import list_specs

        self.base.addItem("The model the folder was reviewed with (else demo-shapes)", AUTO_BASE)
        for spec in list_specs():
            if not spec.parts and spec.weight_status().available:
                self.base.addItem(spec.title, spec.name)

    def _browse_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder of images", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _forget(self, *_args) -> None:
        self.data = None
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.data is not None and self.job is None

    def check(self) -> None:
        if self.job is not None:
            return
        folder, coco, review = self.folder.text().strip(), self.coco.text().strip(), self.from_review.isChecked()
        self.data = None
        self.report.clear()
        self.message.clear_message()
        job = BackgroundJob(lambda j: read_data(folder, coco, review, j.report_progress, j.cancel), "detector-data", self)
        job.progress.connect(lambda p: self.progress.setValue(round(100 * p.fraction)))
        job.succeeded.connect(self._on_data)
        job.failed.connect(lambda e: self.message.show_message(escape(e.message), "error"))
        job.finished.connect(self._on_finished)
        self.job = job
        self.check_button.setEnabled(False)
        job.start()

    def _on_data(self, data) -> None:
        self.data = data
        self.report.setPlainText("\n".join(data.lines()))
        if not data.class_names:
            self.data = None
            self.message.show_message("No labelled objects: accept or relabel detections, mark images reviewed.", "error")

    def _on_finished(self) -> None:
        self.job = None
        self.check_button.setEnabled(True)
        self.completeChanged.emit()


class DetectorTrainingPage(QWizardPage):
    def __init__(self, data_page: DetectorDataPage, device: str = "auto"):
        super().__init__()
        self.data_page = data_page
        self.setTitle("Detector: training")
        self.setSubTitle("The epoch with the best held-out box AP50 is the one kept.")
        self.device, self.result, self.job = device, None, None
        self.history: list = []
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 1000)
        from engine.train.detector_pipeline import DEFAULT_ITERATIONS

        self.epochs.setSpecialValueText(f"auto (about {DEFAULT_ITERATIONS} steps)")
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.0, 0.9)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.2)
        self.loss_plot, self.ap_plot = CurvePlot("Training loss per epoch"), CurvePlot("Held-out box AP50", percent=True)
        self.loss_plot.add_series("training", TRAIN_COLOUR)
        self.ap_plot.add_series("held out", VAL_COLOUR)
        self.start_button, self.stop_button, self.cancel_button = (
            QPushButton("Start training"), QPushButton("Stop and keep best"), QPushButton("Cancel training"))
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(lambda: self.job and self.job.request_stop())
        self.cancel_button.clicked.connect(lambda: self.job and self.job.request_cancel())
        self.progress, self.status, self.message = QProgressBar(), dim_label("Not started"), Banner()
        self.progress.setRange(0, 1000)
        self.log = _mono(QPlainTextEdit())
        self.log.setMaximumHeight(110)
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("Held-out share", self.val_fraction)
        plots, controls = QHBoxLayout(), QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.ap_plot)
        for widget in (self.start_button, self.progress, self.stop_button, self.cancel_button):
            controls.addWidget(widget, 1 if widget is self.progress else 0)
        layout = QVBoxLayout(self)
        for item in (form, plots, controls):
            layout.addLayout(item, 1 if item is plots else 0)
        for widget in (self.status, self.message, self.log):
            layout.addWidget(widget)
        self._buttons()

    def isComplete(self) -> bool:
        return self.result is not None and self.job is None

    def cleanupPage(self) -> None:
        if self.job is not None:
            self.job.request_cancel()

    def _buttons(self) -> None:
        running = self.job is not None
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.completeChanged.emit()

    def start(self) -> None:
        from engine.train.detector_pipeline import DetectorConfig

        data, base = self.data_page.data, self.data_page.base.currentData()
        config = DetectorConfig(base=base or None, epochs=self.epochs.value() or None,
                                val_fraction=self.val_fraction.value(), device=self.device)
        self.result, self.history = None, []
        for plot in (self.loss_plot, self.ap_plot):
            plot.clear(config.epochs or 1)
        self.log.clear()
        self.message.clear_message()

        def work(job: BackgroundJob):
            from engine.train.detector_pipeline import train_detector

            return train_detector(data, config, progress=job.report_progress, cancel=job.cancel, stop=job.stop,
                                  on_epoch=job.report_epoch)

        job = BackgroundJob(work, "train-detector", self)
        job.progress.connect(self._on_progress)
        job.epoch.connect(self._on_epoch)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(lambda: self.message.show_message("Cancelled: nothing was kept.", "warning"))
        job.finished.connect(self._on_finished)
        self.job = job
        self.status.setText("Starting: loading the base model…")
        job.start(on_device=True)  # training waits for, and holds, the model device
        self._buttons()

    def _on_progress(self, progress) -> None:
        self.progress.setValue(round(1000 * progress.fraction))
        left = progress.seconds_left
        self.status.setText(f"{progress.message} — {duration(progress.elapsed)} so far"
                            + (f", about {duration(left)} left" if left is not None and progress.done >= 3 else ""))

    def _on_epoch(self, m) -> None:
        self.history.append(m)
        self.loss_plot.epochs = self.ap_plot.epochs = m.epochs
        self.loss_plot.add_point("training", m.epoch, m.train_loss)
        if m.val_ap50 is not None:
            self.ap_plot.add_point("held out", m.epoch, m.val_ap50)
        if m.best:
            self.ap_plot.best_epoch = m.epoch
        from engine.commands.train_detector import epoch_line

        self.log.appendPlainText(epoch_line(m))

    def _on_succeeded(self, result) -> None:
        self.result = result
        self.progress.setValue(1000)
        self.message.show_message(f"Training {result.fit.stop_reason} in {duration(result.seconds)}: best epoch "
                                  f"{result.fit.best_epoch}. The model is kept in memory until you save it.", "ok")

    def _on_failed(self, error: JobError) -> None:
        self.message.show_message(f"<b>Training failed:</b> {escape(error.message)}", "error")

    def _on_finished(self) -> None:
        self.job = None
        self._buttons()


def scores_table(result) -> str:
    """Held-out box AP50 per class before and after, as plain text."""
    if result.before is None:
        return "No held-out images: nothing was evaluated."
    names = list(dict.fromkeys(list(result.after.per_class_ap50) + list(result.before.per_class_ap50)))
    rows = [f"{'class':<20}{'before':>8}{'after':>8}"]
    for name in names:
        before, after = result.before.per_class_ap50.get(name), result.after.per_class_ap50.get(name)
        rows.append(f"{name:<20}{before if before is not None else 0:>8.3f}{after if after is not None else 0:>8.3f}")
    rows.append(f"{'all (box AP50)':<20}{result.before.box_ap50:>8.3f}{result.after.box_ap50:>8.3f}")
    return "\n".join(rows)


class DetectorResultsPage(QWizardPage):
    """The last page; `saved(path)` is called once the model file is in place."""

    def __init__(self, training_page: DetectorTrainingPage, saved):
        super().__init__()
        self.training_page, self.on_saved = training_page, saved
        self.setTitle("Detector: results")
        self.setSubTitle("Box AP at IoU 0.5 on the held-out images, before and after fine-tuning.")
        self.saved: Path | None = None
        self.table = _mono(QPlainTextEdit())
        self.name = QLineEdit()
        self.save_button = QPushButton("Save model")
        self.save_button.clicked.connect(self.save)
        self.message = Banner()
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)

    def nextId(self) -> int:  # noqa: N802 - Qt API
        return -1  # the end, whatever pages other paths of the wizard have

    def initializePage(self) -> None:
        result = self.training_page.result
        self.saved = None
        self.table.setPlainText(scores_table(result))
        self.name.setText(result.checkpoint.name)

    def save(self) -> None:
        from dataclasses import replace

        from engine.train.checkpoint import default_model_path

        result = self.training_page.result
        name = self.name.text().strip() or result.checkpoint.name
        result.checkpoint = replace(result.checkpoint, name=name)
        try:
            self.saved = result.save(default_model_path(name))
        except OSError as exc:
            self.message.show_message(f"Cannot write the model file: {escape(str(exc))}", "error")
            return
        self.message.show_message(f"Saved to {escape(str(self.saved))}; it is in the model list now.", "ok")
        self.on_saved(str(self.saved))
