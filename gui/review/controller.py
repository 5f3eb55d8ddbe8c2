"""The review window's logic, without widgets: which images are open, which one is shown,
what the model found on it, the filter, the selection and the decisions.

Every view change bumps `generation` (a `gui.work.Generation`). A decoded image asked under
an older number is dropped by the work layer on arrival (its worker is stale); a model result
carries the number it was asked under and is shown only while that number is current, but
is still kept (store, cache, list badge): it is valid, just not for this view.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.draw import OverlayStyle
from engine.models import get_spec
from engine.review import (ACCEPTED, REJECTED, RELABELLED, ReviewRecord, ReviewSession, ViewFilter, decide,
                           mark_reviewed)
from engine.review.commands import Command
from engine.store import ReviewStore
from gui.scheduler import DeviceScheduler, JobResult
from gui.work import Generation, WorkPool
from gui.review import loading
from gui.review.image_list import ANALYSING, DONE, FAILED, NEW, QUEUED, ImageListModel
from gui.review.undo import UndoableChange


class ReviewController(QObject):
    view_changed = Signal()  # detections, filter, decisions or selection of the shown image
    image_loaded = Signal(object)  # Pyramid of the shown image, None: none to show
    current_changed = Signal(int)  # row of the shown image, -1 for none
    message = Signal(str)  # canvas banner ("" clears)
    status = Signal(str)  # status bar note
    inference = Signal(str, float)  # model, seconds of the last inference
    images_added = Signal(int)
    videos_found = Signal(list)  # video paths among what was opened (for a video panel to take)
    model_changed = Signal(str)
    _write_failed = Signal(str)  # from the store's writer thread, delivered queued

    def __init__(self, store: ReviewStore, images: ImageListModel, jobs: DeviceScheduler, pool: WorkPool,
                 model: str, device: str = "auto", parent: Optional[QObject] = None):
        super().__init__(parent)
        self.store, self.images, self.jobs, self.pool = store, images, jobs, pool
        self.model, self.device = model, device
        self.session = ReviewSession(store)
        self.session.on_change(self._session_changed)
        self.session.on_error(lambda command, exc: self._write_failed.emit(f"Not saved: {command.text}: {exc}"))
        self._write_failed.connect(self.status)
        self.undo_stack = QUndoStack(self)
        self.filter = ViewFilter()
        self.options = OverlayStyle()
        self.generation = Generation()
        self.current_row = -1
        self.current_path: Optional[str] = None
        self.review: Optional[ReviewRecord] = None
        self.selected = -1
        self._visible: Optional[np.ndarray] = None
        self.classifier_labels = lambda review: None  # top classifier label per detection (ClassifyAll sets it)
        self._display_task = None
        jobs.result.connect(self._on_result)
        jobs.started.connect(lambda job: self.images.update(job.path, state=ANALYSING))

    # adding images -----------------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        """Scan files and folders in the background, then list what is new."""
        if paths:
            self.status.emit("Scanning…")
            self.pool.submit(loading.scan_for_review, list(paths), self.store, self.model,
                             on_done=self._scanned, on_error=lambda m: self.status.emit(f"Could not scan: {m}"))

    def _scanned(self, scan: loading.ScanResult) -> None:
        entries = scan.entries
        added = self.images.add(entries)
        notes = [f"{added:,} image{'s' if added != 1 else ''} added"] if added or not scan.videos else []
        if scan.videos:
            notes.append(f"{len(scan.videos):,} video{'s' if len(scan.videos) != 1 else ''} in the Video panel")
            self.videos_found.emit(scan.videos)
        if scan.skipped:
            notes.append(f"{len(scan.skipped):,} other files skipped")
        if scan.missing:
            notes.append(f"{len(scan.missing)} not found")
        self.status.emit(", ".join(notes))
        self.images_added.emit(added)
        if self.current_row < 0 and len(self.images):
            self.open_row(self.images.row_of(entries[0].path) if entries else 0)

    def clear_list(self) -> None:
        """Empty the list and the view (results and decisions stay in the store); queued
        analyses are cancelled and late answers dropped."""
        self.cancel_all()
        self.generation.next()
        self.jobs.forget_pending()
        if self._display_task is not None:
            self._display_task.cancel.cancel()
        self.current_row, self.current_path = -1, None
        self.images.clear()
        self._set_review(None)
        self.image_loaded.emit(None)
        self.message.emit("")

    # navigation --------------------------------------------------------------------------

    def open_row(self, row: int) -> None:
        if not 0 <= row < len(self.images):
            return
        self.generation.next()
        entry = self.images.entry(row)
        self.current_row, self.current_path = row, entry.path
        self._set_review(None)
        self.jobs.forget_pending()
        if self._display_task is not None:
            self._display_task.cancel.cancel()
        self.current_changed.emit(row)
        self.message.emit("Loading…")
        cached = self.session.cached(entry.path, self.model)
        self._display_task = self.pool.submit(
            loading.load_for_display, entry.path, self.store, self.model, cached is None, with_cancel=True,
            stale=self.generation.stamp(), on_done=lambda shown: self._displayed(shown, cached),
            on_error=lambda exc: self._display_failed(entry.path, str(exc)))

    def step(self, delta: int) -> None:
        if len(self.images):
            row = self.current_row + delta if self.current_row >= 0 else 0
            self.open_row(max(0, min(len(self.images) - 1, row)))

    def next_unreviewed(self) -> bool:
        total = len(self.images)
        for offset in range(1, total + 1):
            row = (self.current_row + offset) % total
            entry = self.images.entry(row)
            if not entry.reviewed and entry.state != FAILED:
                self.open_row(row)
                return True
        self.status.emit("Every image is reviewed")
        return False

    def _displayed(self, shown: loading.DisplayImage, cached: Optional[ReviewRecord]) -> None:
        """(Only while the view is the one it was asked for: the work layer drops it after.)"""
        if shown.error:
            self._display_failed(shown.path, shown.error)
            return
        self.image_loaded.emit(shown.levels)
        review = cached or self._from_stored(shown.stored)
        if review is not None:
            self._remember(review)
            self._set_review(review)
            self.message.emit(self._failure_text(review))
        else:
            self._analyse_current(shown.array)

    def _display_failed(self, path: str, reason: str) -> None:
        self.images.update(path, state=FAILED, failure=reason)
        self.image_loaded.emit(None)
        self.message.emit(f"Cannot show this image: {reason}")

    @staticmethod
    def _from_stored(stored) -> Optional[ReviewRecord]:
        return stored

    @staticmethod
    def _failure_text(review: ReviewRecord) -> str:
        return f"Could not analyse: {review.failure}" if review.failure else ""

    # analysis ----------------------------------------------------------------------------

    def model_problem(self) -> str:
        """Why the chosen model cannot run now ("" when it can)."""
        status = get_spec(self.model).weight_status()
        if status.available:
            return ""
        return (f"Weights for {self.model} are missing: put {status.path.name} in {status.path.parent}, "
                f"or use Import weights… in the model panel")

    def _analyse_current(self, array=None) -> None:
        problem = self.model_problem()
        if problem:
            self.message.emit(problem)
            return
        path = self.current_path
        self.images.update(path, state=ANALYSING if not self.jobs.busy else QUEUED)
        self.message.emit(f"Analysing with {self.model}…")
        self.jobs.request(path, self.model, self.device, self.generation.value, image=array)

    def reanalyse_current(self) -> None:
        if self.current_path is None:
            return
        self.session.forget(self.current_path, self.model)
        self._set_review(None)
        self._analyse_current()

    def analyse_all(self) -> int:
        problem = self.model_problem()
        if problem:
            self.status.emit(problem)
            return 0
        paths = [e.path for e in self.images.entries() if e.state in (NEW, FAILED, QUEUED)]
        self.images.update_many(paths, state=QUEUED)
        self.jobs.analyse_all(paths, self.model, self.device)
        return len(paths)

    def cancel_all(self) -> None:
        queued = self.jobs.queued_paths()
        self.jobs.cancel_batch()
        self.images.update_many(queued, state=NEW)

    def _on_result(self, result: JobResult) -> None:
        job = result.job
        entry = self.images.entry_for(job.path)
        if result.model_error or result.cancelled:
            if entry is not None and entry.state in (QUEUED, ANALYSING):
                self.images.update(job.path, state=NEW)
            if result.model_error and self.generation.is_current(job.generation):
                self.message.emit(f"{job.model} cannot run: {result.model_error}")
            return
        det = result.detections
        review = ReviewRecord(job.path, job.model, result.result_id, det)
        if job.model == self.model:
            self._remember(review)
            state = FAILED if result.failure else DONE
            self.images.update(job.path, state=state, scores=det.scores.copy(), rejected=frozenset(),
                               failure=result.failure, reviewed=False, decided=0)
        if not result.failure:
            self.inference.emit(job.model, det.inference_seconds)
        if self.generation.is_current(job.generation):  # the answer to what the view asked
            self._set_review(review)
            self.message.emit(self._failure_text(review))

    def _remember(self, review: ReviewRecord) -> None:
        self.session.remember(review)

    # model and device --------------------------------------------------------------------

    def set_model(self, name: str) -> None:
        if name == self.model:
            return
        self.cancel_all()
        self.model = name
        self.model_changed.emit(name)
        paths = self.images.paths()
        self.pool.submit(loading.summarise, paths, self.store, name,
                         on_done=lambda found: self._resummarised(name, found, set(paths)))

    def reload_from_store(self, paths) -> None:
        """Results written to the store from elsewhere (File > Import results): what is held
        for these paths is forgotten and their list entries re-read; the open image reopens."""
        model, asked = self.model, set(paths)
        for path in asked:
            self.session.forget(path, model)
        listed = [p for p in self.images.paths() if p in asked]
        if listed:
            self.pool.submit(loading.summarise, listed, self.store, model,
                             on_done=lambda found: self._resummarised(model, found, asked))

    def _resummarised(self, model: str, found: dict, asked: set) -> None:
        if model != self.model:
            return
        for entry in self.images.entries():
            if entry.path in asked:  # entries added since were scanned with this model already
                entry.apply_summary(found.get(entry.path))
        self.images.set_min_score(self.filter.min_score)  # repaint every row
        if self.current_row >= 0:
            self.open_row(self.current_row)

    def set_device(self, device: str) -> None:
        self.device = device

    # filter and overlays (never re-run the model) ----------------------------------------

    def set_filter(self, view: ViewFilter) -> None:
        self.filter = view
        self.images.set_min_score(view.min_score)
        self._changed()

    def set_options(self, options: OverlayStyle) -> None:
        self.options = options
        self.view_changed.emit()

    def visible(self) -> np.ndarray:
        if self._visible is None:
            self._visible = (self.filter.visible(self.review, self.classifier_labels(self.review)) if self.review
                             else np.zeros(0, np.int64))
        return self._visible

    def _set_review(self, review: Optional[ReviewRecord]) -> None:
        self.review = self.session.current = review
        self.selected = -1
        self._changed()

    def _changed(self) -> None:
        self._visible = None
        if self.selected >= 0 and self.selected not in set(self.visible().tolist()):
            self.selected = -1
        self.view_changed.emit()

    # selection ---------------------------------------------------------------------------

    def select(self, index: int) -> None:
        if index != self.selected and (index < 0 or index in set(self.visible().tolist())):
            self.selected = index
            self.view_changed.emit()

    def select_step(self, delta: int) -> None:
        visible = self.visible().tolist()
        if not visible:
            return
        if self.selected not in visible:
            self.select(visible[0] if delta > 0 else visible[-1])
            return
        position = visible.index(self.selected) + delta
        self.select(visible[max(0, min(len(visible) - 1, position))])

    # decisions ---------------------------------------------------------------------------

    def decide(self, state: str, label: Optional[int] = None, index: Optional[int] = None) -> bool:
        """Accept, reject or relabel a detection (the selected one by default), undoably."""
        review, index = self.review, self.selected if index is None else index
        if review is None or review.result_id is None or index < 0:
            return False
        was_selected = index == self.selected  # (a rejected one hidden by the filter is deselected on push)
        self._push(decide(review, index, state, label))
        if state in (ACCEPTED, REJECTED) and was_selected:
            self._advance_after(index)
        return True

    def relabel_as_new(self, name: str, index: Optional[int] = None) -> bool:
        """Relabel a detection as a class its model does not have (added to the review's
        classes for this model; see ReviewSession.add_class), undoably."""
        review = self.review
        if review is None or review.result_id is None or not name.strip():
            return False
        label = self.session.add_class(review, name)
        return self.decide(RELABELLED, label, index)

    def clear_decision(self, index: Optional[int] = None) -> None:
        review, index = self.review, self.selected if index is None else index
        if review is not None and index is not None and index >= 0:
            self._push(decide(review, index, None))

    def _push(self, command: Optional[Command]) -> None:
        if command is not None:
            self.undo_stack.push(UndoableChange(command, self.session))

    def _advance_after(self, index: int) -> None:
        """Select the next pending detection shown after `index` (else the first before it);
        none pending: keep `index` selected while it is shown."""
        visible = self.visible().tolist()
        pending = [i for i in visible if i != index and self.review.state(i) == "pending"]
        later = [i for i in pending if i > index] or pending
        if later:
            self.select(later[0])
        elif index in visible:
            self.select(index)
        else:
            self.select(-1)

    def toggle_reviewed(self) -> bool:
        review = self.review
        if review is None or review.result_id is None:
            return False
        self._push(mark_reviewed(review, not review.reviewed))
        return True

    def _session_changed(self, command: Command, record: Optional[ReviewRecord]) -> None:
        """A decision or reviewed mark was applied (or undone): show it everywhere."""
        if record is None:
            if command.frame is None:
                self._refresh_entry(command.path, command.model)
            return
        if command.model == self.model and command.frame is None:
            summary = record.summary()
            self.images.update(record.path, rejected=summary.rejected, decided=summary.decided,
                               reviewed=summary.reviewed)
        if record is self.review:
            self._changed()

    def _refresh_entry(self, path: str, model: str) -> None:
        """Re-read one list entry from the store (after undoing on an image not in memory)."""
        def update(found: dict) -> None:
            entry = self.images.entry_for(path)
            if entry is not None and model == self.model:
                entry.apply_summary(found.get(path))
                self.images.update(path)

        self.pool.submit(loading.summarise, [path], self.store, model, on_done=update)

    # another view on the canvas -----------------------------------------------------------

    def show_other(self, review: Optional[ReviewRecord]) -> None:
        """The video player owns the canvas: leave the listed image (its late answers are
        dropped) and review `review` (a video frame's stored result, or None) with the same
        filter, selection and decision code as an image."""
        if self.current_row >= 0 or self.current_path is not None:
            self.generation.next()
            self.jobs.forget_pending()
            if self._display_task is not None:
                self._display_task.cancel.cancel()
            self.current_row, self.current_path = -1, None
        if review is not None and review.result_id is not None:  # (a live result not stored yet is not kept)
            self.session.remember(review)
        if review is not self.review:
            self._set_review(review)

    # the end -----------------------------------------------------------------------------

    def current_name(self) -> str:
        return os.path.basename(self.current_path) if self.current_path else ""
