"""Score threshold, overlay toggles with mask opacity, and the checkable class list with
counts. Every change here re-filters cached results; none runs a model."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QSlider, QVBoxLayout, QWidget)

from engine.draw import class_colour
from engine.draw import OverlayStyle


def _slider(maximum: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, maximum)
    slider.setValue(value)
    slider.setPageStep(5)
    return slider


class FilterPanel(QWidget):
    """Threshold and overlays. Overlay toggles mirror the window's View actions."""

    min_score_changed = Signal(float)
    options_changed = Signal(object)  # OverlayStyle
    show_rejected_changed = Signal(bool)

    def __init__(self, toggles: dict[str, QAction], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.threshold = _slider(100, 50)
        self.threshold.setObjectName("scoreThreshold")
        self.threshold_label = QLabel("0.50")
        self.threshold_label.setMinimumWidth(34)
        self.opacity = _slider(100, 45)
        self.opacity.setObjectName("maskOpacity")
        self.toggles = toggles
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Score ≥"), 0, 0)
        grid.addWidget(self.threshold, 0, 1)
        grid.addWidget(self.threshold_label, 0, 2)
        boxes = QGridLayout()
        for n, key in enumerate(("masks", "boxes", "labels", "keypoints", "rejected")):
            boxes.addWidget(self._checkbox(toggles[key]), n // 3, n % 3)
        grid.addLayout(boxes, 1, 0, 1, 3)
        grid.addWidget(QLabel("Mask opacity"), 2, 0)
        grid.addWidget(self.opacity, 2, 1, 1, 2)
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.opacity.valueChanged.connect(lambda _: self.options_changed.emit(self.options()))
        for key in ("masks", "boxes", "labels", "keypoints"):
            toggles[key].toggled.connect(lambda _: self.options_changed.emit(self.options()))
        toggles["rejected"].toggled.connect(self.show_rejected_changed)

    @staticmethod
    def _checkbox(action: QAction) -> QCheckBox:
        box = QCheckBox(action.text().replace("&", ""))
        box.setChecked(action.isChecked())
        box.setToolTip(f"{action.toolTip()} ({action.shortcut().toString()})")
        box.toggled.connect(action.setChecked)
        action.toggled.connect(box.setChecked)
        return box

    def _threshold_moved(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        self.min_score_changed.emit(value / 100)

    def min_score(self) -> float:
        return self.threshold.value() / 100

    def set_min_score(self, value: float) -> None:
        self.threshold.setValue(int(round(value * 100)))

    def options(self) -> OverlayStyle:
        t = self.toggles
        return OverlayStyle(masks=t["masks"].isChecked(), boxes=t["boxes"].isChecked(),
                              labels=t["labels"].isChecked(), keypoints=t["keypoints"].isChecked(),
                              mask_opacity=self.opacity.value() / 100)


def _swatch(label: int) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*class_colour(label)))
    return QIcon(pixmap)


class ClassList(QWidget):
    """Classes found on the shown image (and any hidden ones), each with its count."""

    hidden_changed = Signal(frozenset)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("classList")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.summary = QLabel()
        self.summary.setObjectName("dimLabel")
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        for text, hide_all in (("All", False), ("None", True)):
            link = QLabel(f"<a href='#'>{text}</a>")
            link.linkActivated.connect(lambda _, h=hide_all: self._set_all(h))
            row.addWidget(link)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.list)
        self.hidden: frozenset = frozenset()
        self._shown: tuple = ()
        self.list.itemChanged.connect(self._item_changed)

    def set_counts(self, counts: dict[str, int], labels: dict[str, int], hidden: frozenset) -> None:
        """`counts` per class name; `labels` gives each name's class index (for its colour)."""
        names = sorted(set(counts) | set(hidden), key=lambda n: (-counts.get(n, 0), n))
        shown = tuple((n, counts.get(n, 0), n in hidden) for n in names)
        self.hidden = hidden
        total = sum(counts.values())
        self.summary.setText(f"{total} detection{'s' if total != 1 else ''}, {len(counts)} class"
                             f"{'es' if len(counts) != 1 else ''}")
        if shown == self._shown:
            return
        self._shown = shown
        self.list.blockSignals(True)
        self.list.clear()
        for name, count, is_hidden in shown:
            item = QListWidgetItem(_swatch(labels.get(name, 0)), f"{name}  ({count})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if is_hidden else Qt.CheckState.Checked)
            self.list.addItem(item)
        self.list.blockSignals(False)

    def _item_changed(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        hidden = set(self.hidden)
        if item.checkState() == Qt.CheckState.Checked:
            hidden.discard(name)
        else:
            hidden.add(name)
        self.hidden = frozenset(hidden)
        self.hidden_changed.emit(self.hidden)

    def _set_all(self, hide: bool) -> None:
        names = {self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())}
        self.hidden = frozenset(names) if hide else frozenset()
        self.hidden_changed.emit(self.hidden)

    def set_class_hidden(self, name: str, hidden: bool) -> None:
        """Check or uncheck one class as a user would."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setCheckState(Qt.CheckState.Unchecked if hidden else Qt.CheckState.Checked)
