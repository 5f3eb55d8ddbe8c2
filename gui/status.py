"""The status bar: notes on the left; "Analyse all" progress with time left and Cancel; the
model, its device and the last inference time on the right."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from engine.types import Progress


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left"


class StatusBar(QStatusBar):
    message_shown = Signal(str, int)  # every note shown, and its timeout in ms (gui/messages.py keeps them)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt API
        super().showMessage(text, timeout)
        self.message_shown.emit(text, timeout)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setObjectName("batchProgress")
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(True)
        self.eta = QLabel()
        self.cancel = QToolButton()
        self.cancel.setObjectName("cancelButton")
        self.cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for widget in (self.progress, self.eta, self.cancel):
            self.addPermanentWidget(widget)  # permanent: a status note does not hide them
            widget.hide()
        self.zoom_label = QLabel()
        self.model_label = QLabel()
        self.device_label = QLabel()
        self.inference_label = QLabel("Last inference: none yet")
        self.scale_label = QLabel()  # "Analysed at 640x480 of 8000x6000" when the model saw it smaller
        self.scale_label.setObjectName("scaleField")
        for label in (self.scale_label, self.zoom_label, self.model_label, self.device_label, self.inference_label):
            label.setObjectName(label.objectName() or "statusField")
            self.addPermanentWidget(label)
        self.scale_label.hide()
        self._model, self._device = "", ""

    def show_scale(self, note: str) -> None:
        """The size the shown result was analysed at, when not the image's own ("" hides it)."""
        self.scale_label.setText(note[:1].upper() + note[1:])
        self.scale_label.setToolTip("The model saw this image at its working size; the results are "
                                    "mapped back to the image's own pixels" if note else "")
        self.scale_label.setVisible(bool(note))

    def show_zoom(self, text: str) -> None:
        self.zoom_label.setText(text)

    def show_model(self, model: str, device: str) -> None:
        self._model, self._device = model, device
        self.model_label.setText(f"Model: {model}")
        self.model_label.setToolTip("")
        self.device_label.setText(f"Device: {device}")

    def show_model_state(self, state: str, model: str, detail: str) -> None:
        if state == "loading":
            self.model_label.setText(f"Model: {model} (loading…)")
        elif state == "ready":
            self.model_label.setText(f"Model: {model}")
            self.device_label.setText(f"Device: {detail}")
        elif state == "failed":
            self.model_label.setText(f"Model: {model} ⚠")
            self.model_label.setToolTip(detail)
            self.showMessage(f"{model} cannot run: {detail}", 15_000)

    def show_inference(self, model: str, seconds: float) -> None:
        self.inference_label.setText(f"Last inference: {seconds * 1000:.0f} ms")

    def show_progress(self, progress: Progress) -> None:
        for widget in (self.progress, self.eta, self.cancel):
            widget.show()
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)
        self.progress.setFormat(f"{progress.done:,} / {progress.total:,}")
        self.eta.setText(format_seconds(progress.seconds_left))

    def hide_progress(self, cancelled: bool = False) -> None:
        for widget in (self.progress, self.eta, self.cancel):
            widget.hide()
        self.showMessage("Analysis cancelled" if cancelled else "Analysis finished", 8000)
