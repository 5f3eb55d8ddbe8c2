"""Step 4: training in a worker thread, with live loss and accuracy curves per epoch, a progress
bar with the time left, Cancel (nothing is kept) and Stop and keep best (the best epoch so far
becomes the result). The engine's CancelTokens do the stopping; the GUI never waits on them."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from gui.wizard.common import Banner, dim_label, duration, escape
from gui.wizard.curves import TRAIN_COLOUR, VAL_COLOUR, CurvePlot
from gui.wizard.worker import BackgroundJob, JobError

IDLE, RUNNING, STOPPING, CANCELLING, FINISHED, CANCELLED, FAILED = (
    "idle", "running", "stopping", "cancelling", "finished", "cancelled", "failed")  # fmt: skip


def config_summary(config) -> str:
    extra = ""
    if config.strategy == "finetune":
        extra = f", warm start {config.warm_start_epochs}" + (
            f", layer decay {config.layer_decay:g}" if config.layer_decay else "")  # fmt: skip
    lr = f"{config.lr:g}" if config.lr else "default"
    return (f"<b>{config.backbone}</b> &middot; {config.strategy}{extra} &middot; up to {config.epochs} epochs "
            f"&middot; batch {config.batch_size} &middot; {config.optimizer}, lr {lr}, {config.schedule} "
            f"&middot; {config.image_size} px &middot; device {config.device}")  # fmt: skip


def epoch_line(m) -> str:
    flags = (" frozen encoder" if m.encoder_frozen else "") + ("  * best" if m.best else "")
    return (f"epoch {m.epoch:>3}/{m.epochs}  train loss {m.train_loss:.4f} acc {m.train_acc:6.1%}   "
            f"val loss {m.val_loss:.4f} acc {m.val_acc:6.1%}   lr {m.lr:.1e}  {m.seconds:.1f}s{flags}")  # fmt: skip


class TrainingPage(QWizardPage):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setTitle("Training")
        self.setSubTitle("Curves grow after every epoch. The epoch with the lowest validation loss is the one kept.")
        self.job: Optional[BackgroundJob] = None
        self.state = IDLE
        self.history: list = []
        self._restart_pending = False

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.loss_plot = CurvePlot("Loss per epoch")
        self.acc_plot = CurvePlot("Accuracy per epoch", percent=True)
        for plot in (self.loss_plot, self.acc_plot):
            plot.add_series("training", TRAIN_COLOUR)
            plot.add_series("validation", VAL_COLOUR)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.status = QLabel("Not started")
        self.stop_button = QPushButton("Stop and keep best")
        self.stop_button.setToolTip("End training now and keep the epoch with the lowest validation loss so far "
                                    "(after the first epoch has finished)")  # fmt: skip
        self.stop_button.clicked.connect(self.stop)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("End training now and keep nothing")
        self.cancel_button.clicked.connect(self.cancel)
        self.restart_button = QPushButton("Train again")
        self.restart_button.clicked.connect(self.start)
        self.restart_button.hide()
        controls = QHBoxLayout()
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.restart_button)

        self.message = Banner()
        self.details_button = QToolButton()
        self.details_button.setText("Show details")
        self.details_button.setCheckable(True)
        self.details_button.hide()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setMaximumHeight(120)
        self.log.setPlaceholderText("One line per epoch")

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(plots, 1)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addWidget(self.details_button)
        layout.addWidget(self.details)
        layout.addWidget(self.log)
        layout.addWidget(dim_label("The window stays usable while training runs; nothing is written to disk "
                                   "until you save the classifier on the next page."))  # fmt: skip

    # -- QWizardPage --------------------------------------------------------------------------

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        self.start()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt name: going Back
        self._restart_pending = False
        if self.job is not None:
            self.job.request_cancel()
            self._set_state(CANCELLING, "Cancelling: nothing will be kept...")
        self.wizard().result = None

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        wizard = self.wizard()
        return self.state == FINISHED and wizard is not None and wizard.result is not None

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- control ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start training with the wizard's current settings (the old result is dropped)."""
        if self.job is not None:  # still winding down after a cancel: start once it has ended
            self.job.request_cancel()
            self._restart_pending = True
            return
        self._restart_pending = False
        wizard = self.wizard()
        wizard.result = None
        try:
            config = wizard.config().resolved()
        except ValueError as exc:
            self._show_failure(JobError(str(exc)))
            return
        report = wizard.report
        self.history = []
        self.loss_plot.clear(config.epochs)
        self.acc_plot.clear(config.epochs)
        self.log.clear()
        self.message.clear_message()
        self.details_button.hide()
        self.details_button.setChecked(False)
        self.summary.setText(config_summary(config))

        def work(job: BackgroundJob):
            from engine.train.pipeline import train_classifier

            return train_classifier(report, config, progress=job.report_progress, on_epoch=job.report_epoch,
                                    cancel=job.cancel, stop=job.stop)  # fmt: skip

        job = BackgroundJob(work, "train", self)
        job.progress.connect(self._on_progress)
        job.epoch.connect(self._on_epoch)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(self._on_finished)
        self.job = job
        self._set_state(RUNNING, "Starting: loading the images and the network...")
        self.progress.setValue(0)
        job.start(on_device=True)  # training waits for, and holds, the model device

    def stop(self) -> None:
        if self.job is not None and self.state == RUNNING:
            self.job.request_stop()
            when = "now" if self.history else "once the first epoch has finished"
            self._set_state(STOPPING, f"Stopping {when}, keeping the best epoch...")

    def cancel(self) -> None:
        if self.job is not None and self.state in (RUNNING, STOPPING):
            self.job.request_cancel()
            self._set_state(CANCELLING, "Cancelling: nothing will be kept...")

    # -- signals from the job -----------------------------------------------------------------

    def _mine(self) -> bool:
        return self.job is not None and self.sender() is self.job

    def _on_progress(self, progress) -> None:
        if not self._mine() or self.state not in (RUNNING, STOPPING):
            return
        self.progress.setValue(round(1000 * progress.fraction))
        left = progress.seconds_left
        text = f"{progress.message} \u2014 {duration(progress.elapsed)} so far"
        if left is not None and progress.done >= 3:
            text += f", about {duration(left)} left"
        self.status.setText(text if self.state == RUNNING else self.status.text())

    def _on_epoch(self, metrics) -> None:
        if not self._mine():
            return
        self.history.append(metrics)
        for plot, train, val in ((self.loss_plot, metrics.train_loss, metrics.val_loss),
                                 (self.acc_plot, metrics.train_acc, metrics.val_acc)):  # fmt: skip
            plot.add_point("training", metrics.epoch, train)
            plot.add_point("validation", metrics.epoch, val)
            if metrics.best:
                plot.best_epoch = metrics.epoch
        self.log.appendPlainText(epoch_line(metrics))

    def _on_succeeded(self, result) -> None:
        if not self._mine():
            return
        wizard = self.wizard()
        wizard.result = result
        fit = result.fit
        self.progress.setValue(1000)
        self._set_state(FINISHED, f"Finished in {duration(result.seconds)}: best epoch {fit.best_epoch} of "
                                  f"{len(fit.history)} ({fit.stop_reason}), validation accuracy "
                                  f"{result.results.accuracy:.1%}. Next: the results.")  # fmt: skip
        self.message.show_message(f"Training {fit.stop_reason}. The model is kept in memory until you save it.", "ok")

    def _on_cancelled(self) -> None:
        if self._mine():
            self._set_state(CANCELLED, "Cancelled.")
            self.message.show_message("Training was cancelled: no model was made and nothing was written. "
                                      "Train again, or go Back to change the settings.", "warning")  # fmt: skip

    def _on_failed(self, error: JobError) -> None:
        if self._mine():
            self._show_failure(error)

    def _on_finished(self) -> None:
        if self._mine():
            self.job = None
            self._set_state(self.state, self.status.text())
            if self._restart_pending and self.wizard().currentPage() is self:
                self.start()

    def _show_failure(self, error: JobError) -> None:
        self._set_state(FAILED, "Training did not finish.")
        self.message.show_message(f"<b>Training failed:</b> {escape(error.message)}<br>Change the settings "
                                  "(Back) and train again.", "error")  # fmt: skip
        self.details.setPlainText(error.details or error.message)
        self.details_button.setVisible(bool(error.details))

    # -- buttons ------------------------------------------------------------------------------

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status.setText(text)
        active = self.job is not None
        self.stop_button.setEnabled(active and state == RUNNING)
        self.cancel_button.setEnabled(active and state in (RUNNING, STOPPING))
        self.stop_button.setVisible(state in (RUNNING, STOPPING, CANCELLING, IDLE))
        self.cancel_button.setVisible(state in (RUNNING, STOPPING, CANCELLING, IDLE))
        self.restart_button.setVisible(not active and state in (CANCELLED, FAILED))
        self.completeChanged.emit()
        QTimer.singleShot(0, self, self._sync_back_button)

    def _sync_back_button(self) -> None:
        """QWizard re-enables Back on its own; while training runs, going back is not offered."""
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            wizard.button(QWizard.WizardButton.BackButton).setEnabled(self.job is None)
