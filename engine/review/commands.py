"""Review decisions as plain, undoable command objects, and a plain undo history.

A command says what changes (which record, which detection, from what to what); a target
applies it (`target.apply_decision(command, decision)` / `target.apply_reviewed(command,
reviewed)`). `ReviewSession` is the engine's target; the window wraps the same commands in
a QUndoStack. Nothing here writes by itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Protocol, Union

from engine.review.record import ACCEPTED, RELABELLED, Decision, ReviewRecord


class ReviewTarget(Protocol):
    def apply_decision(self, command: "DecisionChange", decision: Optional[Decision]) -> None: ...

    def apply_reviewed(self, command: "ReviewedChange", reviewed: bool) -> None: ...


@dataclass(frozen=True)
class DecisionChange:
    path: str
    model: str
    frame: Optional[int]
    result_id: int
    index: int
    old: Optional[Decision]
    new: Optional[Decision]
    class_name: str = ""

    @property
    def text(self) -> str:
        if self.new is None:
            verb = "Clear decision"
        elif self.new.label is not None:
            verb = f"Relabel as {self.class_name}"
        else:
            verb = self.new.state.capitalize()
        return f"{verb} #{self.index + 1} in {_where(self.path, self.frame)}"

    def apply(self, target: ReviewTarget) -> None:
        target.apply_decision(self, self.new)

    def revert(self, target: ReviewTarget) -> None:
        target.apply_decision(self, self.old)


@dataclass(frozen=True)
class ReviewedChange:
    path: str
    model: str
    frame: Optional[int]
    result_id: int
    reviewed: bool

    @property
    def text(self) -> str:
        verb = "Mark reviewed" if self.reviewed else "Mark not reviewed"
        return f"{verb}: {_where(self.path, self.frame)}"

    def apply(self, target: ReviewTarget) -> None:
        target.apply_reviewed(self, self.reviewed)

    def revert(self, target: ReviewTarget) -> None:
        target.apply_reviewed(self, not self.reviewed)


Command = Union[DecisionChange, ReviewedChange]


def _where(path: str, frame: Optional[int]) -> str:
    name = os.path.basename(path)
    return name if frame is None else f"{name} frame {frame}"


def decide(record: ReviewRecord, index: int, state: Optional[str], label: Optional[int] = None) -> Optional[DecisionChange]:
    """The command that gives detection `index` this decision (state None clears it), or None
    when nothing would change or the record is not stored. A relabel to the class the model
    gave is an accept."""
    if record.result_id is None or not 0 <= index < len(record.detections):
        return None
    if state == RELABELLED and label == int(record.detections.labels[index]):
        state, label = ACCEPTED, None
    new = None if state is None else Decision(state, label)
    old = record.decisions.get(index)
    if new == old:
        return None
    name = record.detections.class_names[label] if label is not None else ""
    return DecisionChange(record.path, record.model, record.frame, record.result_id, index, old, new, name)


def mark_reviewed(record: ReviewRecord, reviewed: bool) -> Optional[ReviewedChange]:
    if record.result_id is None or record.reviewed == reviewed:
        return None
    return ReviewedChange(record.path, record.model, record.frame, record.result_id, reviewed)


class History:
    """Undo and redo of commands applied to one target (the window uses a QUndoStack)."""

    def __init__(self, target: ReviewTarget):
        self.target = target
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, command: Optional[Command]) -> bool:
        if command is None:
            return False
        command.apply(self.target)
        self._done.append(command)
        self._undone.clear()
        return True

    def undo(self) -> Optional[Command]:
        if not self._done:
            return None
        command = self._done.pop()
        command.revert(self.target)
        self._undone.append(command)
        return command

    def redo(self) -> Optional[Command]:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.apply(self.target)
        self._done.append(command)
        return command

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""
