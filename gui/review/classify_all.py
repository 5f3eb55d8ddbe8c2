"""Review ▸ Classify all images: the chosen classifier labels the detections of every listed
image, as one long job on the model thread (`DeviceScheduler.run_long`), with a progress bar
and Cancel in the status bar; the labels go to the review store (engine/review/classify_all.py),
so the table and canvas show them beside the detector's as each image is opened, and exports
carry them. Also the "Classifier says" filter of the filter panel: only detections whose
classifier label is the chosen one, or where the classifier disagrees with the detector."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QProgressBar, QToolButton

from engine.review.classify_all import ClassifyReport, classify_all
from engine.review.view import DISAGREES
from engine.types import Progress
from gui.review.classifier_labels import label_boxes

ANY = ""


class _Relay(QObject):
    progress = Signal(object)  # emitted on the model thread, delivered on the GUI thread


class ClassifyAll(QObject):
    finished = Signal(object)  # ClassifyReport, or None when it could not run

    def __init__(self, window):
        super().__init__(window)
        self.window, self.job, self.report = window, None, None
        self.relay = _Relay(self)
        self.relay.progress.connect(self._progress)
        self.action = QAction("Classify a&ll images", window)
        self.action.setStatusTip("Run the chosen classifier on the detections of every listed image")
        self.action.triggered.connect(self.start)
        window.actions_["classify_all"] = self.action
        window.menu("Review").addAction(self.action)
        self.bar, self.cancel_button = QProgressBar(), QToolButton()
        self.bar.setMaximumWidth(180)
        self.cancel_button.setText("Cancel classifying")
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.bar, self.cancel_button):
            window.status.addPermanentWidget(widget)
            widget.hide()
        self._filter_row()
        window.controller.classifier_labels = self.top_labels
        window.classifier.labels_ready.connect(self._labels_changed)

    # the filter ---------------------------------------------------------------------------

    def _filter_row(self) -> None:
        self.says = QComboBox()
        self.says.setObjectName("classifierSays")
        self.says.setToolTip("Show only detections the chosen classifier labels so (or disagrees on)")
        self.says.currentIndexChanged.connect(self._says_chosen)
        grid = self.window.filter_panel.layout()
        row = grid.rowCount()
        grid.addWidget(QLabel("Classifier says"), row, 0)
        grid.addWidget(self.says, row, 1, 1, 2)
        self._fill([])

    def _fill(self, names) -> None:
        wanted = self.says.currentData() or ANY
        self.says.blockSignals(True)
        self.says.clear()
        self.says.addItem("anything", ANY)
        self.says.addItem("not what the detector says", DISAGREES)
        for name in names:
            self.says.addItem(name, name)
        self.says.setCurrentIndex(max(0, self.says.findData(wanted)))
        self.says.setEnabled(bool(names))
        self.says.blockSignals(False)
        self._says_chosen()

    def _says_chosen(self, *_args) -> None:
        c = self.window.controller
        says = self.says.currentData() or ANY if self.says.isEnabled() else ANY
        if says != c.filter.classifier_says:
            c.set_filter(c.filter.with_(classifier_says=says))

    def top_labels(self, review):
        view = self.window.classifier.view(review)
        if view is None or view.predictions is None:
            return None
        return [top[0] if top else None for top in map(view.top, range(len(view.predictions)))]

    def _labels_changed(self) -> None:
        chosen = self.window.classifier.chosen
        names = list(chosen.class_names) if chosen is not None else []
        if names != [self.says.itemData(i) for i in range(2, self.says.count())]:
            self._fill(names)
        c = self.window.controller
        if c.filter.classifier_says:
            c.set_filter(c.filter)  # the labels it filters by have arrived

    # the job ------------------------------------------------------------------------------

    def start(self) -> bool:
        w, c = self.window, self.window.controller
        chosen = w.classifier.chosen
        if self.job is not None:
            return False
        if chosen is None:
            w.status.showMessage("No classifier chosen: pick one under Model ▸ Classifier", 10_000)
            return False
        paths, model, device, key, store = w.images.paths(), c.model, c.device, w.classifier.export_key(), w.store
        label = lambda path, size, boxes: label_boxes(path, size, boxes, chosen.path, chosen.stamp, device)  # noqa: E731

        def work(_detector, cancel):
            return classify_all(store, paths, model, key, label, self.relay.progress.emit, cancel)

        self.report = None
        self.job = w.jobs.run_long(model, device, work, self._ended)
        self._progress(Progress(0, len(paths), "waiting for the model"))
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.window.jobs.cancel_long(self.job)

    def _progress(self, progress: Progress) -> None:
        if self.job is None:
            return
        for widget in (self.bar, self.cancel_button):
            widget.show()
        self.bar.setRange(0, max(1, progress.total))
        self.bar.setValue(progress.done)
        self.bar.setFormat(f"classifying {progress.done:,} / {progress.total:,}")

    def _ended(self, result) -> None:
        if result.job is not self.job:
            return
        self.job = None
        for widget in (self.bar, self.cancel_button):
            widget.hide()
        report: ClassifyReport | None = result.value
        if report is None:
            why = result.model_error or result.error or result.failure
            text = f"Classify all failed: {why}" if why else "Classify all cancelled before it started"
        else:
            text = report.line()
        self.report = report
        self.window.status.showMessage(text, 15_000)
        self.finished.emit(report)
