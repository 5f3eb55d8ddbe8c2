"""File ▸ Export…: choose a format, where to write, and which detections go out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton,
                               QVBoxLayout, QWidget)

from engine.review.crops import DEFAULT_MARGIN
from engine.review.exporting import (COCO, CROPS, CSV, FOLDER_KINDS, IMAGES, INCLUDE_ACCEPTED, INCLUDE_ALL,
                                     INCLUDE_NOT_REJECTED, ExportRequest)

FORMATS = ((COCO, "COCO JSON", "detections.json"), (CSV, "CSV, one row per detection", "detections.csv"),
           (IMAGES, "Annotated images (PNG)", "annotated"),
           (CROPS, "Crops of accepted detections, a folder per class (to train a classifier)", "crops"))
INCLUDES = ((INCLUDE_NOT_REJECTED, "All except rejected"), (INCLUDE_ACCEPTED, "Only accepted (and relabelled)"),
            (INCLUDE_ALL, "All, rejected too (each with its review state)"))


class ExportDialog(QDialog):
    def __init__(self, paths: list[str], analysed: int, model: str, min_score: float, hidden: frozenset,
                 folder: Path, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Export results")
        self.paths, self.model, self.min_score, self.hidden = paths, model, min_score, hidden
        self.folder = folder
        self.kinds = QButtonGroup(self)
        kind_box = QVBoxLayout()
        for n, (kind, text, _default) in enumerate(FORMATS):
            button = QRadioButton(text)
            button.setObjectName(f"export_{kind}")
            self.kinds.addButton(button, n)
            kind_box.addWidget(button)
        self.kinds.button(0).setChecked(True)
        self.destination = QLineEdit(str(folder / FORMATS[0][2]))
        self.destination.setObjectName("exportDestination")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.destination, 1)
        where.addWidget(browse)
        self.include = QComboBox()
        for key, text in INCLUDES:
            self.include.addItem(text, key)
        filters = f"score ≥ {min_score:.2f}" + (f", {len(hidden)} hidden class(es) left out" if hidden else "")
        self.use_filter = QCheckBox(f"Apply the current filter ({filters})")
        self.use_filter.setChecked(True)
        self.only_reviewed = QCheckBox("Only images marked reviewed")
        self.margin = QDoubleSpinBox()  # crops: context around each box
        self.margin.setRange(0.0, 2.0)
        self.margin.setSingleStep(0.05)
        self.margin.setValue(DEFAULT_MARGIN)
        self.margin.setToolTip("Crops: context around each box, as a share of its size on every side")
        self.cut_out = QCheckBox("Crops: black outside the detection's mask")
        form = QFormLayout()
        form.addRow("Format", kind_box)
        form.addRow("Save to", where)
        form.addRow("Detections", self.include)
        form.addRow("", self.use_filter)
        form.addRow("", self.only_reviewed)
        form.addRow("Crop margin", self.margin)
        form.addRow("", self.cut_out)
        note = QLabel(f"{analysed:,} of {len(paths):,} images analysed with {model}. "
                      "Images are never overwritten; files are written whole or not at all.")
        note.setWordWrap(True)
        note.setObjectName("dimLabel")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.kinds.idToggled.connect(self._kind_changed)
        self._crop_options()
        self.resize(560, self.sizeHint().height())

    def kind(self) -> str:
        return FORMATS[self.kinds.checkedId()][0]

    def set_kind(self, kind: str) -> None:
        for n, (key, _text, _default) in enumerate(FORMATS):
            if key == kind:
                self.kinds.button(n).setChecked(True)

    def _kind_changed(self, button_id: int, checked: bool) -> None:
        if checked:
            current = Path(self.destination.text() or self.folder / "x")
            self.destination.setText(str(current.parent / FORMATS[button_id][2]))
            self._crop_options()

    def _crop_options(self) -> None:
        crops = self.kind() == CROPS  # crops take the accepted detections, with their final labels
        for widget in (self.margin, self.cut_out):
            widget.setEnabled(crops)
        self.include.setEnabled(not crops)

    def _browse(self) -> None:
        kind = self.kind()
        if kind in FOLDER_KINDS:
            chosen = QFileDialog.getExistingDirectory(self, "Folder to export to", self.destination.text())
        else:
            pattern = "COCO JSON (*.json)" if kind == COCO else "CSV (*.csv)"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.destination.text(), pattern)
        if chosen:
            self.destination.setText(chosen)

    def request(self) -> ExportRequest:
        filtered = self.use_filter.isChecked()
        return ExportRequest(
            kind=self.kind(), destination=Path(self.destination.text()).expanduser(), paths=list(self.paths),
            model=self.model, min_score=self.min_score if filtered else 0.0,
            hidden_classes=self.hidden if filtered else frozenset(), include=self.include.currentData(),
            only_reviewed=self.only_reviewed.isChecked(), margin=self.margin.value(), cut_out=self.cut_out.isChecked())
