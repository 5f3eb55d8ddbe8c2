"""Review ▸ Apply classifier labels to all matching (Shift+C) asks first: a dialog lists every
detection that would change (its class and score now, what the classifier says, what it
becomes) and applies them only on Apply, as one undo step."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from gui.review.classifier_labels import BulkPlan

COLUMNS = ("Detection", "Now", "Score", "Classifier says", "Becomes")


def plan_rows(plan: BulkPlan) -> list[tuple[str, ...]]:
    """One row of text per change, in the dialog's columns."""
    return [(f"#{c.index + 1}", c.now, f"{c.score:.2f}", f"{c.said} {c.probability:.2f}",
             f"{c.becomes} (relabel)" if c.relabels else f"{c.becomes} (accept)") for c in plan.changes]


class BulkLabelDialog(QDialog):
    def __init__(self, plan: BulkPlan, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("bulkLabelDialog")
        self.setWindowTitle("Apply classifier labels")
        self.plan = plan
        count = len(plan.changes)
        relabels = sum(1 for c in plan.changes if c.relabels)
        intro = QLabel(f"{plan.classifier} would decide {count} pending detection{'s' if count != 1 else ''}: "
                       f"{relabels} relabelled, {count - relabels} accepted. One undo (Ctrl+Z) takes them all back.")
        intro.setWordWrap(True)
        self.table = QTableWidget(count, len(COLUMNS))
        self.table.setObjectName("bulkLabelChanges")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter applies, Escape cancels
        for row, texts in enumerate(plan_rows(plan)):
            for column, text in enumerate(texts):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        if plan.unknown:
            note = QLabel(f"Left alone: {', '.join(sorted(plan.unknown))} (not a class of {plan.review.model}).")
            note.setObjectName("dimLabel")
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = buttons.addButton(f"Apply {count} change{'s' if count != 1 else ''}",
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(560, min(520, 160 + 30 * count))
