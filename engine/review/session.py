"""A review without a window: records kept in memory, decisions applied to them and written
through the store's writer. The window's controller and the command line share it.

Listeners (`on_change`) hear of every applied change with the record it touched (None when
that record is not in memory); `on_error` hears of writes the store could not make. Both may
be called from the store's writer thread for errors: a GUI listener must hand over to its
own thread (a queued signal).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Callable, Optional

from engine.review.commands import Command, DecisionChange, History, ReviewedChange, decide, mark_reviewed
from engine.review.record import Decision, ReviewRecord
from engine.review.vocabulary import Vocabulary

CACHED_RECORDS = 48


class ReviewSession:
    def __init__(self, store, cached: int = CACHED_RECORDS):
        self.store = store
        self.history = History(self)
        self._records: OrderedDict[tuple, ReviewRecord] = OrderedDict()
        self._cached = cached
        self.current: Optional[ReviewRecord] = None  # the record in view: never let go
        self._change_listeners: list[Callable[[Command, Optional[ReviewRecord]], None]] = []
        self._error_listeners: list[Callable[[Command, BaseException], None]] = []

    # records ---------------------------------------------------------------------------------

    def remember(self, record: ReviewRecord) -> ReviewRecord:
        """Keep `record` (the newest of its key wins); the oldest are let go past `cached`."""
        self._records[record.key] = record
        self._records.move_to_end(record.key)
        while len(self._records) > self._cached:
            self._records.popitem(last=False)
        return record

    def cached(self, path: str, model: str, frame: Optional[int] = None) -> Optional[ReviewRecord]:
        return self._records.get((path, model, frame))

    def forget(self, path: str, model: str, frame: Optional[int] = None) -> None:
        self._records.pop((path, model, frame), None)

    def load(self, path: str, model: str, frame: Optional[int] = None) -> Optional[ReviewRecord]:
        """The record in memory, else the store's (then kept), else None."""
        record = self.cached(path, model, frame)
        if record is None:
            record = self.store.load_result(path, model, frame)
            if record is not None:
                self.remember(record)
        return record

    def _find(self, command: Command) -> Optional[ReviewRecord]:
        key = (command.path, command.model, command.frame)
        for record in (self.current, self._records.get(key)):
            if record is not None and record.key == key and record.result_id == command.result_id:
                return record
        return None

    # listening -------------------------------------------------------------------------------

    def on_change(self, listener: Callable[[Command, Optional[ReviewRecord]], None]) -> None:
        self._change_listeners.append(listener)

    def on_error(self, listener: Callable[[Command, BaseException], None]) -> None:
        self._error_listeners.append(listener)

    # deciding (through `history`, or a front end's own undo stack) ---------------------------

    def decide(self, record: ReviewRecord, index: int, state: Optional[str], label: Optional[int] = None) -> bool:
        return self.history.push(decide(record, index, state, label))

    def add_class(self, record: ReviewRecord, name: str) -> int:
        """The class index of `name` for this record, adding the class when its model has none
        of that name (a relabel may name a class the detector does not know). A new class goes
        after every class the review already gave this model, so one name has one index on
        all of the model's results; the record and its stored result carry the longer list."""
        name = name.strip()
        if not name:
            raise ValueError("a class needs a name")
        mine = Vocabulary.of(record.detections)
        known = mine.index_of(name)
        if known is not None:
            return known
        longest = self.store.model_vocabulary(record.model)
        classes = list(mine.classes)
        if longest is not None and longest.classes[: len(classes)] == mine.classes:
            classes = list(longest.classes)
        found = Vocabulary(tuple(classes)).index_of(name)
        if found is None:
            classes.append(name)
            found = len(classes) - 1
        record.detections = replace(record.detections, class_names=tuple(classes))
        self.store.set_vocabulary(record.result_id, Vocabulary.of(record.detections))
        return found

    def mark_reviewed(self, record: ReviewRecord, reviewed: bool = True) -> bool:
        return self.history.push(mark_reviewed(record, reviewed))

    # the target the commands apply to ----------------------------------------------------------

    def apply_decision(self, command: DecisionChange, decision: Optional[Decision]) -> None:
        pending = self.store.set_decision(command.result_id, command.index, decision)
        pending.add_done_callback(lambda p: self._report(command, p))
        record = self._find(command)
        if record is not None:
            record.set_decision(command.index, decision)
        self._changed(command, record)

    def apply_reviewed(self, command: ReviewedChange, reviewed: bool) -> None:
        pending = self.store.set_reviewed(command.result_id, reviewed)
        pending.add_done_callback(lambda p: self._report(command, p))
        record = self._find(command)
        if record is not None:
            record.reviewed = reviewed
        self._changed(command, record)

    def _changed(self, command: Command, record: Optional[ReviewRecord]) -> None:
        for listener in self._change_listeners:
            listener(command, record)

    def _report(self, command: Command, pending) -> None:
        if pending.error is not None:
            for listener in self._error_listeners:
                listener(command, pending.error)
