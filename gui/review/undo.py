"""The window's undo stack holds the engine's plain review commands: each QUndoCommand
applies or reverts one `engine.review` command on the review session (which writes to the
store and updates the record)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from engine.review.commands import Command, ReviewTarget


class UndoableChange(QUndoCommand):
    def __init__(self, command: Command, target: ReviewTarget):
        super().__init__(command.text)
        self.command, self.target = command, target

    def redo(self) -> None:
        self.command.apply(self.target)

    def undo(self) -> None:
        self.command.revert(self.target)
