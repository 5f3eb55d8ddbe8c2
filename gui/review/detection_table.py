"""The detection table: one row per visible detection (class, score, area, review state, and
the chosen classifier's top label). Selecting a row selects the same detection as a click on
the canvas, and back."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from engine.draw import class_colour
from engine.store import ACCEPTED, REJECTED, RELABELLED
from engine.review import ReviewRecord

COLUMNS = ("#", "Class", "Score", "Area", "Review", "Classifier")
CLASSIFIER_COLUMN = 5
STATE_COLOURS = {ACCEPTED: QColor("#4cc38a"), REJECTED: QColor("#e5635a"), RELABELLED: QColor("#5aa9e6")}


class DetectionTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.review: Optional[ReviewRecord] = None
        self.rows: list[int] = []
        self.classifier = None  # classifier_labels.LabelsView of the shown review, or None

    def set_rows(self, review: Optional[ReviewRecord], visible: np.ndarray) -> None:
        rows = visible.tolist()
        if review is self.review and rows == self.rows:
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.review, self.rows = review, rows
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt API
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.review is None:
            return None
        i, column, review = self.rows[index.row()], index.column(), self.review
        if column == CLASSIFIER_COLUMN:
            return self._classifier_data(i, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(review, i, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == 4:
            return STATE_COLOURS.get(review.state(i))
        if role == Qt.ItemDataRole.DecorationRole and column == 1:
            return QColor(*class_colour(review.label(i)))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and review.state(i) == RELABELLED:
            original = review.detections.class_names[int(review.detections.labels[i])]
            return f"The model said {original}"
        return None

    def _classifier_data(self, i: int, role):
        view = self.classifier
        if view is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return view.note(i)
        if role == Qt.ItemDataRole.ToolTipRole:
            return view.details(i)
        return None

    @staticmethod
    def _text(review: ReviewRecord, i: int, column: int) -> str:
        if column == 0:
            return str(i + 1)
        if column == 1:
            return review.name(i)
        if column == 2:
            return f"{review.detections.scores[i]:.2f}"
        if column == 3:
            return f"{review.area(i):,.0f}"
        return review.state(i)

    def row_of(self, index: int) -> int:
        try:
            return self.rows.index(index)
        except ValueError:
            return -1


class DetectionTable(QTableView):
    detection_selected = Signal(int)  # stored index, -1 for none

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("detectionTable")
        self.table_model = DetectionTableModel(self)
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self._updating = False
        self.selectionModel().selectionChanged.connect(self._selection_changed)

    def show_rows(self, review: Optional[ReviewRecord], visible: np.ndarray, selected: int,
                  classifier=None) -> None:
        """`classifier`: the chosen classifier's labels of `review` (a LabelsView), None: no column."""
        self._updating = True
        try:
            self.table_model.classifier = classifier
            self.setColumnHidden(CLASSIFIER_COLUMN, classifier is None)
            self.table_model.set_rows(review, visible)
            row = self.table_model.row_of(selected)
            if row < 0:
                self.clearSelection()
            elif not self.selectionModel().isRowSelected(row, QModelIndex()):
                self.selectRow(row)
            if row >= 0:
                self.scrollTo(self.table_model.index(row, 0))
        finally:
            self._updating = False

    def _selection_changed(self, *_args) -> None:
        if self._updating:
            return
        rows = self.selectionModel().selectedRows()
        self.detection_selected.emit(self.table_model.rows[rows[0].row()] if rows else -1)
