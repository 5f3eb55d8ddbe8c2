"""Model, device and classifier pickers: each model with its weight status and what it outputs;
a model whose weights are missing says which file goes in which folder and offers Import… and
Download (with progress and Cancel; `gui.review.weights_download` runs it). The classifier
picker lists the user's trained classifiers (None: detections keep only the detector's labels)."""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from engine.classify import ClassifierInfo
from engine.models import ModelSpec, get_spec, list_specs
from engine.types import Progress

DEVICE_LABELS = {"auto": "Automatic (GPU when present)", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}


def _size(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def describe_spec(spec: ModelSpec) -> tuple[str, bool]:
    """(rich text about the model, whether its weights are here)."""
    status = spec.weight_status()
    outputs = spec.describe_outputs()
    if status.available:
        where = "bundled with Sightline" if status.state == "bundled" else f"in {status.path.parent}"
        return f"Finds <b>{outputs}</b>.<br>Weights {where} ({_size(status.size_bytes)}).", True
    size = f" ({_size(status.size_bytes)})" if status.size_bytes else ""
    return (f"Finds <b>{outputs}</b>.<br><span style='color:#e0a040'>Weights missing.</span> "
            f"Put <code>{status.path.name}</code>{size} in <code>{status.path.parent}</code>, "
            f"or import a weights file you have."), False


def describe_classifier(info: ClassifierInfo) -> str:
    """A classifier's tooltip: its classes, validation accuracy and where it came from."""
    if info.error:
        return f"Cannot be used: {info.error}"
    names = ", ".join(info.class_names[:12]) + (", …" if len(info.class_names) > 12 else "")
    lines = [f"{len(info.class_names)} classes: {names}"]
    if info.accuracy is not None:
        lines.append(f"Validation accuracy {info.accuracy * 100:.1f}%")
    made = ", ".join(x for x in (info.architecture, info.strategy, info.date[:16].replace("T", " ")) if x)
    if made:
        lines.append(made)
    lines.append(str(info.path))
    return "\n".join(lines)


def classifier_title(info: ClassifierInfo, with_date: bool = False) -> str:
    """The picker's text: name and number of classes (and the date when names repeat)."""
    if info.error:
        return f"⚠ {info.path.name}"
    date = f", {info.date[:16].replace('T', ' ')}" if with_date and info.date else ""
    return f"{info.name} ({len(info.class_names)} classes{date})"


def available_devices() -> list[str]:
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


class ModelPanel(QWidget):
    model_chosen = Signal(str)
    device_chosen = Signal(str)
    import_requested = Signal(str)  # the model the weights are meant for
    classifier_chosen = Signal(str)  # path of the classifier file, "" for none
    download_requested = Signal(str)  # the model whose missing weights to download
    download_cancel_requested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.models = QComboBox()
        self.models.setObjectName("modelPicker")
        self.devices = QComboBox()
        self.classifiers = QComboBox()
        self.classifiers.setObjectName("classifierPicker")
        self.classifiers.setToolTip("Label each detection with a classifier you trained "
                                    "(Tools ▸ Train…)")
        self.classifiers.addItem("None", "")
        for picker in (self.models, self.devices, self.classifiers):  # a long name never widens the Review panel
            picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            picker.setMinimumContentsLength(14)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setObjectName("modelInfo")
        self.import_button = QPushButton("Import weights…")
        self.import_button.clicked.connect(lambda: self.import_requested.emit(self.current_model()))
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("downloadWeights")
        self.download_button.clicked.connect(lambda: self.download_requested.emit(self.current_model()))
        self.download_bar = QProgressBar()
        self.download_bar.setObjectName("downloadProgress")
        self.download_bar.setTextVisible(True)
        self.download_cancel = QPushButton("Cancel")
        self.download_cancel.setObjectName("cancelDownload")
        self.download_cancel.clicked.connect(self.download_cancel_requested)
        self.download_error = QLabel()
        self.download_error.setObjectName("downloadError")
        self.download_error.setWordWrap(True)
        self.download_error.setTextFormat(Qt.TextFormat.PlainText)
        self.download_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_error.setStyleSheet("color:#e06060")
        self._downloading = ""  # the model whose weights are downloading now
        self._download_errors: dict[str, str] = {}  # the last failure of each model's download
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.models)
        form.addRow("Device", self.devices)
        form.addRow("Classifier", self.classifiers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.info)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        progress = QHBoxLayout()
        progress.addWidget(self.download_bar, 1)
        progress.addWidget(self.download_cancel)
        layout.addLayout(progress)
        layout.addWidget(self.download_error)
        for device in available_devices():
            self.devices.addItem(DEVICE_LABELS.get(device, device), device)
        self.refresh()
        self.models.currentIndexChanged.connect(self._model_changed)
        self.devices.currentIndexChanged.connect(lambda _: self.device_chosen.emit(self.devices.currentData()))
        self.classifiers.currentIndexChanged.connect(lambda _: self.classifier_chosen.emit(self.current_classifier()))

    def refresh(self, select: Optional[str] = None) -> None:
        """Re-read every model's weight status (after an import)."""
        chosen = select or self.current_model()
        self.models.blockSignals(True)
        self.models.clear()
        for spec in list_specs():
            available = spec.weight_status().available
            self.models.addItem(("" if available else "⚠ ") + spec.title, spec.name)
            self.models.setItemData(self.models.count() - 1, describe_spec(spec)[0].replace("<br>", "\n"),
                                    Qt.ItemDataRole.ToolTipRole)
        index = self.models.findData(chosen) if chosen else -1
        self.models.setCurrentIndex(max(0, index))
        self.models.blockSignals(False)
        self._show_info()

    def current_model(self) -> str:
        return self.models.currentData() or ""

    def set_model(self, name: str) -> None:
        index = self.models.findData(name)
        if index >= 0 and index != self.models.currentIndex():
            self.models.setCurrentIndex(index)
        self._show_info()

    def set_device(self, device: str) -> None:
        index = self.devices.findData(device)
        if index >= 0:
            self.devices.setCurrentIndex(index)

    def set_classifiers(self, infos: Sequence[ClassifierInfo], select: str = "") -> None:
        """List `infos` after "None" (unusable ones disabled) and select the path `select`
        when it is listed and usable (else None); `classifier_chosen` tells when that changed."""
        before = self.current_classifier()
        self.classifiers.blockSignals(True)
        self.classifiers.clear()
        self.classifiers.addItem("None", "")
        items = self.classifiers.model()
        names = [info.name for info in infos]
        for info in infos:
            self.classifiers.addItem(classifier_title(info, names.count(info.name) > 1), str(info.path))
            row = self.classifiers.count() - 1
            self.classifiers.setItemData(row, describe_classifier(info), Qt.ItemDataRole.ToolTipRole)
            if info.error:
                items.item(row).setEnabled(False)
        index = self.classifiers.findData(select) if select else 0
        usable = index >= 0 and items.item(index).isEnabled()
        self.classifiers.setCurrentIndex(index if usable else 0)
        self.classifiers.blockSignals(False)
        if self.current_classifier() != before:
            self.classifier_chosen.emit(self.current_classifier())

    def current_classifier(self) -> str:
        return self.classifiers.currentData() or ""

    def _model_changed(self, _index: int) -> None:
        self._show_info()
        self.model_chosen.emit(self.current_model())

    # downloading -----------------------------------------------------------------------

    @property
    def downloading(self) -> str:
        return self._downloading

    def download_started(self, name: str) -> None:
        self._downloading = name
        self._download_errors.pop(name, None)
        self.download_bar.setRange(0, 0)  # busy until the first progress
        self.download_bar.setFormat(f"Downloading {name}…")
        self.download_bar.setToolTip(f"Downloading the weights of {name}")
        self._show_info()

    def download_progress(self, name: str, progress: Progress) -> None:
        total = progress.total or get_spec(name).weight_status().size_bytes
        self.download_bar.setRange(0, max(1, total // 1000))
        self.download_bar.setValue(min(progress.done, total or progress.done) // 1000)
        done_mb = progress.done / 1e6
        self.download_bar.setFormat(f"{done_mb:.1f} / {total / 1e6:.1f} MB" if total else f"{done_mb:.1f} MB")

    def download_ended(self, name: str, error: str = "") -> None:
        """The download of `name` ended: done (refresh the statuses), cancelled or `error`."""
        self._downloading = ""
        if error:
            self._download_errors[name] = error
        self.refresh()

    def _show_info(self) -> None:
        name = self.current_model()
        if not name:
            return
        spec = get_spec(name)
        text, available = describe_spec(spec)
        self.info.setText(text)
        self.import_button.setVisible(not available)
        size = spec.weight_status().size_bytes
        downloadable = not available and size > 0 and bool(spec.weights_enum or spec.parts)
        self.download_button.setText(f"Download ({_size(size)})")
        self.download_button.setVisible(downloadable)
        self.download_button.setEnabled(not self._downloading)
        self.download_button.setToolTip("Another download is running" if self._downloading else
                                        f"Download the weights into {spec.weight_status().path.parent}")
        for widget in (self.download_bar, self.download_cancel):
            widget.setVisible(bool(self._downloading))
        error = "" if available else self._download_errors.get(name, "")
        self.download_error.setText(f"Download failed: {error}" if error else "")
        self.download_error.setVisible(bool(error))
