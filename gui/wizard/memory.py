"""The training dialogs open with the settings they were last used with, not the defaults: each
field's value is kept in the settings file (gui/settings.py, group "wizard/<kind>/") as soon as
it changes, and given back when the dialog is made again.

Kept: the classifier wizard's folder, validation share, backbone, augmentation, sampling and
training settings (epochs only for the strategy they were set for: another strategy starts
from its own default); the detector wizard's folder (when it is not opened on one), data
source, COCO file, base model, epochs and held-out share; the segmenter dialog's folder, mask
source, epochs, working size and time limit. Not kept: what the data decides (the recommended
strategy) and what the window decides (the device)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QDoubleSpinBox,
                               QLineEdit, QSpinBox, QWidget)

GROUP = "wizard"


def settings_for(widget: QWidget) -> QSettings:
    """The window's settings when the dialog belongs to one, else the settings file's."""
    parent = widget.parentWidget()
    found = getattr(parent, "settings", None) if parent is not None else None
    if isinstance(found, QSettings):
        return found
    from gui.settings import make_settings

    return make_settings()


def _value(widget: QWidget):
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox, QAbstractSlider)):
        return widget.value()
    if isinstance(widget, QAbstractButton):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        return widget.currentData() if widget.currentData() is not None else widget.currentText()
    raise TypeError(f"cannot keep the value of a {type(widget).__name__}")


def _set(widget: QWidget, kept) -> None:
    if isinstance(widget, QLineEdit):
        widget.setText(str(kept))
    elif isinstance(widget, QSpinBox) or isinstance(widget, QAbstractSlider):
        widget.setValue(int(kept))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(float(kept))
    elif isinstance(widget, QAbstractButton):
        widget.setChecked(str(kept).lower() == "true")  # INI files give back strings
    elif isinstance(widget, QComboBox):
        index = widget.findData(kept)
        index = index if index >= 0 else widget.findText(str(kept))
        if index >= 0:  # a choice this machine no longer has keeps the default
            widget.setCurrentIndex(index)


def _changed(widget: QWidget):
    if isinstance(widget, QLineEdit):
        return widget.textChanged
    if isinstance(widget, (QAbstractSpinBox, QAbstractSlider)):
        return widget.valueChanged
    if isinstance(widget, QAbstractButton):
        return widget.toggled
    return widget.currentIndexChanged


def remember(settings: QSettings, kind: str, fields: dict[str, Optional[QWidget]]) -> None:
    """Give each field its kept value (where one was kept), then keep every change.
    A field given as None is skipped (kept neither way)."""
    for key, widget in fields.items():
        if widget is None:
            continue
        name = f"{GROUP}/{kind}/{key}"
        kept = settings.value(name)
        if kept is not None:
            try:
                _set(widget, kept)
            except (TypeError, ValueError):  # a hand-edited settings file: the default stays
                pass
        _changed(widget).connect(lambda *_args, n=name, w=widget: settings.setValue(n, _value(w)))


def remember_classifier(wizard, folder_given: bool) -> None:
    data, strategy, page = wizard.data_page, wizard.strategy_page, wizard.settings_page
    settings = settings_for(wizard)
    fields = {"folder": None if folder_given else data.folder_edit, "validation": data.val_spin}
    fields.update({f"backbone_{name}": button for name, button in strategy.backbone_buttons.items()})
    for name in page.aug_checks:
        fields[f"augment_{name}"] = page.aug_checks[name]
        fields[f"augment_{name}_strength"] = page.aug_sliders[name]
    fields.update(balanced=page.balanced_check, optimizer=page.optimizer_combo, schedule=page.schedule_combo,
                  epochs=page.epochs_spin, batch_size=page.batch_spin, learning_rate=page.lr_edit,
                  weight_decay=page.decay_spin, patience=page.patience_spin, image_size=page.size_spin)
    remember(settings, "classifier", fields)
    epochs_for = f"{GROUP}/classifier/epochs_for_strategy"
    page._strategy_defaults_for = str(settings.value(epochs_for, ""))  # its epochs stay; another's default
    page.epochs_spin.valueChanged.connect(lambda *_: settings.setValue(epochs_for, strategy.strategy))


def remember_detector(wizard, folder_given: bool) -> None:
    data, training = wizard.data_page, wizard.training_page
    remember(settings_for(wizard), "detector", {
        "folder": None if folder_given else data.folder, "from_coco": data.from_coco, "from_review": data.from_review,
        "coco": data.coco, "base": data.base, "epochs": training.epochs, "held_out": training.val_fraction})


def remember_segmenter(dialog) -> None:
    remember(settings_for(dialog), "segmenter", {
        "folder": dialog.folder, "from_review": dialog.from_review, "epochs": dialog.epochs,
        "image_size": dialog.image_size, "minutes": dialog.minutes})
