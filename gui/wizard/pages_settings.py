"""Step 3: augmentation (with a live preview grid of augmented samples of the data, made in the
background) and the training settings: optimiser, schedule, epochs, batch size, learning rate,
weight decay, early stopping, image size, device."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QDoubleValidator, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from engine.train import strategies as S
from engine.train.transforms import AugmentConfig
from gui.wizard.common import Banner, dim_label, escape
from gui.wizard.worker import BackgroundJob, JobError

AUGMENTATIONS = (  # (field, label, what the strength means)
    ("crop", "Random resized crop", "keeps 100% down to 10% of the image area at full strength"),
    ("flip", "Horizontal flip", "strength is the chance of a flip"),
    ("colour", "Colour casting", "brightness, contrast, saturation and hue jitter"),
    ("geometric", "Geometric distortion", "rotation up to 30 degrees, shift, scale and shear at full strength"),
)
PREVIEW_COUNT = 8
PREVIEW_TILE = 112
PREVIEW_DELAY_MS = 150


def _pixmap(image: np.ndarray, side: int) -> QPixmap:
    image = np.ascontiguousarray(image[:, :, :3])
    height, width = image.shape[:2]
    qimage = QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)  # fmt: skip


def device_choices() -> list[tuple[str, str]]:
    """(value, label) of the devices this machine has."""
    import torch

    from engine.devices import DeviceError, describe, resolve_device

    auto = describe(resolve_device("auto")).description
    out = [("auto", f"Automatic ({auto})"), ("cpu", "CPU")]
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        out.append((f"cuda:{index}", f"cuda:{index}  {torch.cuda.get_device_name(index)}"))
    try:
        resolve_device("mps")
        out.append(("mps", "Apple GPU (MPS)"))
    except DeviceError:
        pass
    return out


class SettingsPage(QWizardPage):
    def __init__(self, parent: Optional[QWidget] = None, device: str = "auto"):
        super().__init__(parent)
        self.setTitle("Augmentation and settings")
        self.setSubTitle("What training varies in each image, and how long and how fast it learns.")
        self._strategy_defaults_for = ""
        self._sample_index = 0
        self._preview_seed = 0
        self._preview_job: Optional[BackgroundJob] = None
        self._preview_again = False
        self.preview_count = 0  # previews shown so far (for tests and curiosity)

        self.aug_checks: dict[str, QCheckBox] = {}
        self.aug_sliders: dict[str, QSlider] = {}
        defaults = AugmentConfig()
        self.aug_box = QGroupBox("Augmentation (training images only)")
        aug_layout = QGridLayout(self.aug_box)
        for row, (name, label, help_text) in enumerate(AUGMENTATIONS):
            check = QCheckBox(label)
            check.setChecked(getattr(defaults, name))
            check.setToolTip(help_text)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(round(getattr(defaults, f"{name}_strength") * 100))
            slider.setToolTip(f"strength: {help_text}")
            value = QLabel(f"{slider.value()}%")
            value.setMinimumWidth(36)
            slider.valueChanged.connect(lambda v, lab=value: lab.setText(f"{v}%"))
            slider.valueChanged.connect(self._schedule_preview)
            check.toggled.connect(slider.setEnabled)
            check.toggled.connect(self._schedule_preview)
            aug_layout.addWidget(check, row, 0)
            aug_layout.addWidget(slider, row, 1)
            aug_layout.addWidget(value, row, 2)
            self.aug_checks[name], self.aug_sliders[name] = check, slider
        self.balanced_check = QCheckBox("Class-balanced sampling (each class drawn equally often)")
        aug_layout.addWidget(self.balanced_check, len(AUGMENTATIONS), 0, 1, 3)
        self.aug_note = dim_label()
        aug_layout.addWidget(self.aug_note, len(AUGMENTATIONS) + 1, 0, 1, 3)
        aug_layout.setColumnStretch(1, 1)

        self.tiles: list[QLabel] = []
        grid = QGridLayout()
        grid.setSpacing(6)
        for index in range(PREVIEW_COUNT):
            tile = QLabel()
            tile.setFixedSize(QSize(PREVIEW_TILE, PREVIEW_TILE))
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setStyleSheet("background: #1d1f22; border: 1px solid #33363c; border-radius: 3px;")
            grid.addWidget(tile, index // 4, index % 4)
            self.tiles.append(tile)
        self.preview_caption = dim_label()
        other = QPushButton("Another image")
        other.clicked.connect(self.next_sample)
        reshuffle = QPushButton("New draws")
        reshuffle.clicked.connect(self._reshuffle)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_caption, 1)
        buttons.addWidget(other)
        buttons.addWidget(reshuffle)
        preview_box = QGroupBox("Preview: what the network sees, at the training image size")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addLayout(grid)
        preview_layout.addLayout(buttons)

        self.optimizer_combo = QComboBox()
        self.optimizer_combo.addItem("AdamW", "adamw")
        self.optimizer_combo.addItem("SGD with momentum 0.9", "sgd")
        self.optimizer_combo.currentIndexChanged.connect(self._update_lr_hint)
        self.schedule_combo = QComboBox()
        self.schedule_combo.addItem("Cosine decay to zero", "cosine")
        self.schedule_combo.addItem("Step: divide by 10 every third of the epochs", "step")
        self.epochs_spin = self._spin(1, 1000, 30)
        self.batch_spin = self._spin(1, 1024, 32)
        self.lr_edit = QLineEdit()
        validator = QDoubleValidator(1e-8, 10.0, 8, self.lr_edit)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.lr_edit.setValidator(validator)
        self.decay_spin = QDoubleSpinBox()
        self.decay_spin.setDecimals(5)
        self.decay_spin.setRange(0.0, 1.0)
        self.decay_spin.setSingleStep(1e-4)
        self.decay_spin.setValue(1e-4)
        self.patience_spin = self._spin(0, 1000, 5)
        self.patience_spin.setSpecialValueText("off")
        self.patience_spin.setSuffix(" epochs")
        self.size_spin = self._spin(16, 1024, 224)
        self.size_spin.setSingleStep(32)
        self.size_spin.setSuffix(" px")
        self.size_spin.valueChanged.connect(self._schedule_preview)
        self.device_combo = QComboBox()
        for value, label in device_choices():
            self.device_combo.addItem(label, value)
        self.set_device(device)
        form_box = QGroupBox("Training")
        form = QFormLayout(form_box)
        form.addRow("Optimiser", self.optimizer_combo)
        form.addRow("Learning-rate schedule", self.schedule_combo)
        form.addRow("Epochs (at most)", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Weight decay", self.decay_spin)
        form.addRow("Early stopping patience", self.patience_spin)
        form.addRow("Image size", self.size_spin)
        form.addRow("Device", self.device_combo)
        form.addRow(dim_label("Early stopping ends training after this many epochs without a lower validation "
                              "loss; the best epoch is always the one kept."))  # fmt: skip
        self.message = Banner()

        left = QVBoxLayout()
        left.addWidget(self.aug_box)
        left.addWidget(preview_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(form_box)
        right.addWidget(self.message)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 5)
        layout.addLayout(right, 4)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        return spin

    # -- values -------------------------------------------------------------------------------

    def augment(self) -> AugmentConfig:
        values = {}
        for name, _, _ in AUGMENTATIONS:
            values[name] = self.aug_checks[name].isChecked()
            values[f"{name}_strength"] = self.aug_sliders[name].value() / 100.0
        return AugmentConfig(**values)

    def set_augment(self, config: AugmentConfig) -> None:
        for name, _, _ in AUGMENTATIONS:
            self.aug_checks[name].setChecked(getattr(config, name))
            self.aug_sliders[name].setValue(round(getattr(config, f"{name}_strength") * 100))

    def lr(self) -> Optional[float]:
        text = self.lr_edit.text().strip()
        try:
            return float(text) if text else None
        except ValueError:
            return None

    def set_device(self, device: str) -> None:
        device = (device or "auto").strip().lower()
        index = self.device_combo.findData("cuda:0" if device == "cuda" else device)
        self.device_combo.setCurrentIndex(max(0, index))  # one this machine lacks: automatic

    def values(self) -> dict:
        """TrainConfig keyword arguments from this page."""
        return dict(
            augment=self.augment(), balanced=self.balanced_check.isChecked(),
            optimizer=self.optimizer_combo.currentData(), schedule=self.schedule_combo.currentData(),
            epochs=self.epochs_spin.value(), batch_size=self.batch_spin.value(), lr=self.lr(),
            weight_decay=self.decay_spin.value(), patience=self.patience_spin.value() or None,
            image_size=self.size_spin.value(), device=self.device_combo.currentData(),
        )  # fmt: skip

    # -- QWizardPage --------------------------------------------------------------------------

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        strategy = self.wizard().strategy_page.strategy
        if strategy != self._strategy_defaults_for:  # new strategy: its default epochs (and size)
            self._strategy_defaults_for = strategy
            self._strategy_defaults(strategy)
        probe = strategy == "probe-features"
        self.aug_note.setText("The linear probe learns from features computed once per image, so augmentation "
                              "is not used; the preview shows what it would do." if probe else "")  # fmt: skip
        for name, check in self.aug_checks.items():
            check.setEnabled(not probe)
            self.aug_sliders[name].setEnabled(not probe and check.isChecked())
        self._update_lr_hint()
        self.message.clear_message()
        self._schedule_preview()

    def _strategy_defaults(self, strategy: str) -> None:
        """Epochs and image size for `strategy`; for scratch, from the data (engine/train/scratch.py:
        about SCRATCH_STEPS optimiser steps, small images at their own size)."""
        from engine.train.pipeline import TrainConfig
        from engine.train.scratch import DEFAULT_IMAGE_SIZE, scratch_defaults

        report = self.wizard().report
        if strategy != "scratch" or report is None:
            self.epochs_spin.setValue(S.DEFAULT_EPOCHS[strategy])
            self.size_spin.setValue(DEFAULT_IMAGE_SIZE)
            return
        chosen = scratch_defaults(TrainConfig(strategy=strategy, batch_size=self.batch_spin.value(),
                                              patience=self.patience_spin.value() or None), report)
        self.epochs_spin.setValue(chosen.epochs)
        self.size_spin.setValue(chosen.image_size)
        if chosen.patience:
            self.patience_spin.setValue(chosen.patience)

    def validatePage(self) -> bool:  # noqa: N802 - Qt name
        try:
            self.wizard().config().resolved()
        except ValueError as exc:
            self.message.show_message(f"<b>Check the settings:</b> {escape(str(exc))}", "error")
            return False
        self.message.clear_message()
        return True

    def _update_lr_hint(self, *args) -> None:
        wizard = self.wizard()
        strategy = wizard.strategy_page.strategy if wizard is not None else ""
        if strategy:
            default = S.default_lr(strategy, self.optimizer_combo.currentData())
            self.lr_edit.setPlaceholderText(f"default for {strategy}: {default:g}")

    # -- preview ------------------------------------------------------------------------------

    def _schedule_preview(self, *args) -> None:
        self._preview_timer.start()

    def _reshuffle(self) -> None:
        self._preview_seed += 1
        self.update_preview()

    def next_sample(self) -> None:
        self._sample_index += 1
        self.update_preview()

    def _sample_path(self) -> Optional[tuple[str, str]]:
        """(path, class) of the preview image: the classes in turn, a different image each round."""
        report = getattr(self.wizard(), "report", None)
        if report is None or not report.train:
            return None
        by_class: dict[int, list[str]] = {}
        for sample in report.train:
            by_class.setdefault(sample.label, []).append(sample.path)
        labels = sorted(by_class)
        label = labels[self._sample_index % len(labels)]
        paths = by_class[label]
        return paths[(self._sample_index // len(labels)) % len(paths)], report.class_names[label]

    def update_preview(self) -> None:
        """Draw the preview grid in the background; one at a time, the newest settings win."""
        if self._preview_job is not None:
            self._preview_again = True
            return
        sample = self._sample_path()
        if sample is None:
            return
        path, class_name = sample
        augment, size, seed = self.augment(), self.size_spin.value(), self._preview_seed

        def work(job: BackgroundJob) -> list[np.ndarray]:
            from engine.images import load_image
            from engine.train.transforms import preview_augmentations

            return preview_augmentations(load_image(path), augment, size, PREVIEW_COUNT, seed)

        job = BackgroundJob(work, "preview", self)
        job.succeeded.connect(self._on_preview)
        job.failed.connect(self._on_preview_failed)
        job.finished.connect(self._on_preview_finished)
        self._preview_job = job
        self.preview_caption.setText(f"{class_name}: {path}")
        self.preview_caption.setToolTip(path)
        job.start()

    def _on_preview(self, images: list[np.ndarray]) -> None:
        for tile, image in zip(self.tiles, images):
            tile.setPixmap(_pixmap(image, PREVIEW_TILE))
        self.preview_count += 1

    def _on_preview_failed(self, error: JobError) -> None:
        for tile in self.tiles:
            tile.clear()
        self.preview_caption.setText(f"No preview: {error.message}")

    def _on_preview_finished(self) -> None:
        self._preview_job = None
        if self._preview_again:
            self._preview_again = False
            self.update_preview()
