"""The review window's logic, without widgets: which images are open, which one is shown,
what the model found on it, the filter, the selection and the decisions.

Every view change bumps `generation`; background answers (decoded images, model results)
carry the generation they were asked under and are not shown once it has moved on. A model
result is still kept (store, cache, list badge): it is valid, just not for this view.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.models import get_spec
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore, StoreError
from gui.jobs import JobResult, ModelJobs, TaskPool
from gui.review import loading
from gui.review.image_list import ANALYSING, DONE, FAILED, NEW, QUEUED, ImageListModel
from gui.review.session import ImageReview, ViewFilter
from gui.review.undo import DecisionCommand, ReviewedCommand
from engine.draw import OverlayStyle

CACHED_REVIEWS = 48


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

    def __init__(self, store: ReviewStore, images: ImageListModel, jobs: ModelJobs, pool: TaskPool,
                 model: str, device: str = "auto", parent: Optional[QObject] = None):
        super().__init__(parent)
        self.store, self.images, self.jobs, self.pool = store, images, jobs, pool
        self.model, self.device = model, device
        self.undo_stack = QUndoStack(self)
        self.filter = ViewFilter()
        self.options = OverlayStyle()
        self.generation = 0
        self.current_row = -1
        self.current_path: Optional[str] = None
        self.review: Optional[ImageReview] = None
        self.selected = -1
        self._visible: Optional[np.ndarray] = None
        self._cache: OrderedDict[tuple[str, str], ImageReview] = OrderedDict()
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
        notes = [f"{added:,} image{'s' if added != 1 else ''} added"]
        if scan.videos:
            notes.append(f"{len(scan.videos):,} video{'s' if len(scan.videos) != 1 else ''} not listed")
            self.videos_found.emit(scan.videos)
        if scan.skipped:
            notes.append(f"{len(scan.skipped):,} other files skipped")
        if scan.missing:
            notes.append(f"{len(scan.missing)} not found")
        self.status.emit(", ".join(notes))
        self.images_added.emit(added)
        if self.current_row < 0 and len(self.images):
            self.open_row(self.images.row_of(entries[0].path) if entries else 0)

    # navigation --------------------------------------------------------------------------

    def open_row(self, row: int) -> None:
        if not 0 <= row < len(self.images):
            return
        self.generation += 1
        generation = self.generation
        entry = self.images.entry(row)
        self.current_row, self.current_path = row, entry.path
        self._set_review(None)
        self.jobs.forget_pending()
        if self._display_task is not None:
            self._display_task.cancel.cancel()
        self.current_changed.emit(row)
        self.message.emit("Loading…")
        cached = self._cache.get((entry.path, self.model))
        self._display_task = self.pool.submit(
            loading.load_for_display, entry.path, self.store, self.model, cached is None, with_cancel=True,
            on_done=lambda shown: self._displayed(generation, shown, cached),
            on_error=lambda text: self._display_failed(generation, entry.path, text))

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

    def _displayed(self, generation: int, shown: loading.DisplayImage, cached: Optional[ImageReview]) -> None:
        if generation != self.generation:
            return  # the user moved on
        if shown.error:
            self._display_failed(generation, shown.path, shown.error)
            return
        self.image_loaded.emit(shown.levels)
        review = cached or self._from_stored(shown.stored)
        if review is not None:
            self._remember(review)
            self._set_review(review)
            self.message.emit(self._failure_text(review))
        else:
            self._analyse_current(shown.array)

    def _display_failed(self, generation: int, path: str, reason: str) -> None:
        if generation != self.generation:
            return
        self.images.update(path, state=FAILED, failure=reason)
        self.image_loaded.emit(None)
        self.message.emit(f"Cannot show this image: {reason}")

    def _from_stored(self, stored) -> Optional[ImageReview]:
        if stored is None:
            return None
        return ImageReview.from_stored(stored)

    @staticmethod
    def _failure_text(review: ImageReview) -> str:
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
        self.jobs.request(path, self.model, self.device, self.generation, image=array)

    def reanalyse_current(self) -> None:
        if self.current_path is None:
            return
        self._cache.pop((self.current_path, self.model), None)
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
            if result.model_error and job.generation == self.generation:
                self.message.emit(f"{job.model} cannot run: {result.model_error}")
            return
        det = result.detections
        review = ImageReview(job.path, job.model, result.result_id, det)
        if job.model == self.model:
            self._remember(review)
            state = FAILED if result.failure else DONE
            self.images.update(job.path, state=state, scores=det.scores.copy(), rejected=frozenset(),
                               failure=result.failure, reviewed=False, decided=0)
        if not result.failure:
            self.inference.emit(job.model, det.inference_seconds)
        if job.generation == self.generation and job.path == self.current_path and job.model == self.model:
            self._set_review(review)
            self.message.emit(self._failure_text(review))

    def _remember(self, review: ImageReview) -> None:
        key = (review.path, review.model)
        self._cache[key] = review
        self._cache.move_to_end(key)
        while len(self._cache) > CACHED_REVIEWS:
            self._cache.popitem(last=False)

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
            self._visible = self.review.visible(self.filter) if self.review else np.zeros(0, np.int64)
        return self._visible

    def _set_review(self, review: Optional[ImageReview]) -> None:
        self.review = review
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
        if state == RELABELLED and label == int(review.detections.labels[index]):
            state, label = ACCEPTED, None  # "relabelled" to what the model said: an accept
        new, old = Decision(state, label), review.decisions.get(index)
        if new != old:
            name = review.detections.class_names[label] if label is not None else ""
            self.undo_stack.push(DecisionCommand(self, review.path, review.model, review.result_id, index,
                                                 old, new, name))
        if state in (ACCEPTED, REJECTED) and index == self.selected:
            self._advance_after(index)
        return True

    def clear_decision(self, index: Optional[int] = None) -> None:
        review, index = self.review, self.selected if index is None else index
        if review is not None and review.result_id is not None and index in review.decisions:
            self.undo_stack.push(DecisionCommand(self, review.path, review.model, review.result_id, index,
                                                 review.decisions[index], None))

    def _advance_after(self, index: int) -> None:
        visible = self.visible().tolist()
        later = [i for i in visible if i > index and self.review.state(i) == "pending"]
        if later:
            self.select(later[0])
        elif index not in visible:
            self.select(-1)

    def toggle_reviewed(self) -> bool:
        review = self.review
        if review is None or review.result_id is None:
            return False
        command = ReviewedCommand(self, review.path, review.model, review.result_id, not review.reviewed)
        self.undo_stack.push(command)
        return True

    def _find_review(self, path: str, model: str, result_id: int) -> Optional[ImageReview]:
        for review in (self.review, self._cache.get((path, model))):
            if review is not None and (review.path, review.model, review.result_id) == (path, model, result_id):
                return review
        return None

    def apply_decision(self, path: str, model: str, result_id: int, index: int,
                       decision: Optional[Decision]) -> None:
        """Write a decision to the store, then mirror it in memory (undo commands call this)."""
        try:
            self.store.set_decision(result_id, index, decision)
        except StoreError as exc:
            self.status.emit(f"Not saved: {exc}")
            return
        review = self._find_review(path, model, result_id)
        if review is None:
            self._refresh_entry(path, model)
            return
        if decision is None:
            review.decisions.pop(index, None)
        else:
            review.decisions[index] = decision
        if model == self.model:
            rejected = frozenset(i for i, d in review.decisions.items() if d.state == REJECTED)
            self.images.update(path, rejected=rejected, decided=len(review.decisions))
        if review is self.review:
            self._changed()

    def apply_reviewed(self, path: str, model: str, result_id: int, reviewed: bool) -> None:
        try:
            self.store.set_reviewed(result_id, reviewed)
        except StoreError as exc:
            self.status.emit(f"Not saved: {exc}")
            return
        review = self._find_review(path, model, result_id)
        if review is not None:
            review.reviewed = reviewed
        if model == self.model:
            self.images.update(path, reviewed=reviewed)
        if review is not None and review is self.review:
            self.view_changed.emit()

    def _refresh_entry(self, path: str, model: str) -> None:
        """Re-read one list entry from the store (after undoing on an image not in memory)."""
        def update(found: dict) -> None:
            entry = self.images.entry_for(path)
            if entry is not None and model == self.model:
                entry.apply_summary(found.get(path))
                self.images.update(path)

        self.pool.submit(loading.summarise, [path], self.store, model, on_done=update)

    # another view on the canvas -----------------------------------------------------------

    def show_other(self, review: Optional[ImageReview]) -> None:
        """The video player owns the canvas: leave the listed image (its late answers are
        dropped) and review `review` (a video frame's stored result, or None) with the same
        filter, selection and decision code as an image."""
        if self.current_row >= 0 or self.current_path is not None:
            self.generation += 1
            self.jobs.forget_pending()
            if self._display_task is not None:
                self._display_task.cancel.cancel()
            self.current_row, self.current_path = -1, None
        if review is not self.review:
            self._set_review(review)

    # the end -----------------------------------------------------------------------------

    def current_name(self) -> str:
        return os.path.basename(self.current_path) if self.current_path else ""
