"""Undoable review actions. Each one writes to the review store when done and when undone,
through `target.apply_decision` / `target.apply_reviewed` (the ReviewController)."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtGui import QUndoCommand

from engine.store import Decision


def _describe(decision: Optional[Decision], class_name: str) -> str:
    if decision is None:
        return "Clear decision"
    if decision.label is not None:
        return f"Relabel as {class_name}"
    return decision.state.capitalize()


class DecisionCommand(QUndoCommand):
    def __init__(self, target, path: str, model: str, result_id: int, index: int,
                 old: Optional[Decision], new: Optional[Decision], class_name: str = ""):
        super().__init__(f"{_describe(new, class_name)} #{index + 1} in {os.path.basename(path)}")
        self.target, self.key = target, (path, model, result_id, index)
        self.old, self.new = old, new

    def redo(self) -> None:
        self.target.apply_decision(*self.key, self.new)

    def undo(self) -> None:
        self.target.apply_decision(*self.key, self.old)


class ReviewedCommand(QUndoCommand):
    def __init__(self, target, path: str, model: str, result_id: int, reviewed: bool):
        verb = "Mark reviewed" if reviewed else "Mark not reviewed"
        super().__init__(f"{verb}: {os.path.basename(path)}")
        self.target, self.key, self.reviewed = target, (path, model, result_id), reviewed

    def redo(self) -> None:
        self.target.apply_reviewed(*self.key, self.reviewed)

    def undo(self) -> None:
        self.target.apply_reviewed(*self.key, not self.reviewed)
