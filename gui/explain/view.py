"""The Explain dock's widget: pickers, the picture, opacity, progress and Cancel. It draws
what it is given (numpy in, pixmaps out) and says what the user asked for by signals."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy,
                               QSlider, QVBoxLayout, QWidget)  # fmt: skip

from engine.explain.maps import grid, overlay
from engine.types import Progress

METHOD_TITLES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "occlusion": "Occlusion",
                 "features": "Feature maps", "filters": "First-layer filters"}  # fmt: skip


def rgb_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ExplainView(QWidget):
    explain_requested = Signal()
    cancel_requested = Signal()
    source_changed = Signal(str)
    choice_changed = Signal()  # method, stage or class picked

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("explainView")
        self.source, self.method, self.stage, self.target = QComboBox(), QComboBox(), QComboBox(), QComboBox()
        self.explain_button = QPushButton("Explain")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.picture = QLabel("Open an image, then choose what to explain")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 120)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setObjectName("dimLabel")
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        form = QFormLayout()
        form.addRow("Model", self.source)
        form.addRow("Method", self.method)
        form.addRow("Class", self.target)
        form.addRow("Stage", self.stage)
        form.addRow("Opacity", self.opacity)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.explain_button)
        layout.addLayout(running)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self._shown: tuple = ()  # what is drawn: ("map", image, values, box) or ("picture", rgb)
        self.explain_button.clicked.connect(self.explain_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.source.currentIndexChanged.connect(lambda _: self.source_changed.emit(self.source.currentData() or ""))
        self.method.currentIndexChanged.connect(self._method_changed)
        for combo in (self.method, self.stage, self.target):
            combo.currentIndexChanged.connect(lambda _: self.choice_changed.emit())
        self.opacity.valueChanged.connect(lambda _: self._draw())
        self.show_running(False)

    # what the user picks -----------------------------------------------------------------

    def set_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """(key, title) pairs: the detector, and the classifier when one is chosen."""
        current = self.source.currentData()
        self.source.blockSignals(True)
        self.source.clear()
        for key, title in sources:
            self.source.addItem(title, key)
        index = max(0, self.source.findData(current))
        self.source.setCurrentIndex(index)
        self.source.blockSignals(False)
        if self.source.currentData() != current:
            self.source_changed.emit(self.source.currentData() or "")

    def set_choices(self, methods: Sequence[str], classes: Sequence[str] = (), stages: Optional[Sequence[str]] = None) -> None:
        """The methods of the chosen model, its classes (a classifier's; "" = the predicted
        one) and, once known, its stages."""
        lists = [(self.method, [(METHOD_TITLES.get(m, m), m) for m in methods]),
                 (self.target, [("predicted class", "")] + [(c, c) for c in classes])]  # fmt: skip
        if stages is not None:
            lists.append((self.stage, [(s, s) for s in stages]))
        for combo, items in lists:
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for title, data in items:
                combo.addItem(title, data)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        self._method_changed()

    def chosen(self) -> tuple[str, str, str]:
        """(source, method, class) as picked now ("" class: the predicted one)."""
        target = self.target.currentData() if self.target.isEnabled() else ""
        return self.source.currentData() or "", self.method.currentData() or "", target or ""

    def chosen_stage(self) -> str:
        return self.stage.currentData() or ""

    def _method_changed(self, *_) -> None:
        method = self.method.currentData()
        self.stage.setEnabled(method == "features")
        self.target.setEnabled(method in ("gradcam", "gradcam++", "occlusion") and self.target.count() > 1)
        self.opacity.setEnabled(method != "filters")

    # what it shows -------------------------------------------------------------------------

    def show_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.explain_button.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first Progress

    def show_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)

    def show_map(self, image: np.ndarray, values: np.ndarray, caption: str, box=None) -> None:
        self._shown = ("map", image, values, box)
        self.caption.setText(caption)
        self._draw()

    def show_picture(self, rgb: np.ndarray, caption: str) -> None:
        self._shown = ("picture", rgb)
        self.caption.setText(caption)
        self._draw()

    def show_message(self, text: str) -> None:
        self._shown = ()
        self.caption.setText("")
        self.picture.setPixmap(QPixmap())
        self.picture.setText(text)

    def drawn(self) -> Optional[np.ndarray]:
        """The RGB picture now shown (before scaling to the widget), None when none."""
        if not self._shown:
            return None
        if self._shown[0] == "picture":
            return self._shown[1]
        _, image, values, box = self._shown
        alpha = self.opacity.value() / 100
        if values.ndim == 2:
            return overlay(image, values, alpha, box)
        return grid([overlay(image, v, alpha) for v in values], columns=2)

    def _draw(self) -> None:
        rgb = self.drawn()
        if rgb is None:
            return
        pixmap = rgb_pixmap(rgb)
        target = self.picture.size()
        self.picture.setText("")
        self.picture.setPixmap(pixmap.scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))  # fmt: skip

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._draw()
