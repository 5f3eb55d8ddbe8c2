"""Labels from a classifier the user trained, on the detections of the shown image (the R-CNN
idea: regions from the detector, labels from your CNN).

`ClassifierLabels` keeps which classifier is chosen and, whenever the shown image (or the
classifier) changes, first reads the labels the review store keeps for that result and
classifier (a `WorkPool` store read); only when there are none does it run the classifier:
every detection's box cut out and classified on the model thread (`DeviceScheduler.run_short`, so
it never shares the device with a detection job), and the labels saved to the store there.
Answers are also cached in memory per (image, result, boxes, classifier): re-filtering,
reviewing or coming back to an image never runs the classifier again, nor does reopening
the window. A re-analysis replaces the result, and the store drops its labels with it.
One request runs at a time and a newer one replaces the one waiting (a queued classifier job
the user has left is cancelled before it starts); an answer is shown only while its key is
still the one the view wants (the stale check), otherwise it is only cached.

`apply_selected` / `plan_all` + `apply_plan` turn the classifier's top label into a relabel through the
controller's undoable decision path, when the detector knows a class of that name.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.classify import CROP_PADDING, Classifier, ClassifierInfo, Prediction
from engine.store import PENDING, RELABELLED, ClassifierKey, StoreError
from engine.review import ReviewRecord, boxes_fingerprint, category_choices

CACHED_IMAGES = 2000  # labels are a few tuples per detection: cheap to keep
TOP_K = 3


@dataclass(frozen=True)
class ChosenClassifier:
    path: str
    name: str
    class_names: tuple[str, ...]
    stamp: int  # the file's mtime_ns: a file written over is another classifier

    @property
    def key(self) -> tuple[str, int]:
        return self.path, self.stamp


@dataclass(frozen=True)
class LabelsView:
    """The chosen classifier's labels of one review, as the table and the canvas show them."""

    classifier: str  # its name
    predictions: Optional[list[Prediction]] = None  # per stored detection index; None: not (yet) there
    waiting: str = "…"  # what a detection shows while there are no predictions
    reason: str = ""  # why there are none (tooltip, status bar)

    def top(self, index: int) -> Optional[tuple[str, float]]:
        if self.predictions is None or not 0 <= index < len(self.predictions) or not self.predictions[index]:
            return None
        return self.predictions[index][0]

    def note(self, index: int) -> str:
        top = self.top(index)
        return f"{top[0]} {top[1]:.2f}" if top is not None else self.waiting

    def details(self, index: int) -> str:
        if self.top(index) is None:
            return self.reason
        lines = [f"{label}: {p * 100:.1f}%" for label, p in self.predictions[index]]
        return f"{self.classifier} says\n" + "\n".join(lines)


@dataclass(frozen=True)
class BulkChange:
    """One detection the classifier's label would decide: relabel, or accept when it agrees."""

    index: int
    target: int  # the detector's class index it gets
    now: str  # its class now
    score: float
    said: str  # the classifier's top label
    probability: float
    becomes: str  # the detector's class of that name
    relabels: bool  # False: the classifier agrees, the detection is accepted


@dataclass(frozen=True)
class BulkPlan:
    review: ReviewRecord
    classifier: str
    changes: tuple[BulkChange, ...]
    unknown: frozenset  # labels the detector has no class for (left alone)


# --- off the GUI thread (on the model thread, through gui.scheduler.DeviceScheduler.run_short) --------------

_LOADED: dict = {}  # touched only on the device thread: one classifier run at a time


def loaded_classifier(path: str, device: str, stamp: Optional[int] = None) -> Classifier:
    """The classifier file loaded on `device`, kept for the next call: the one cache of the
    device thread, for labels, Classify all and explanations alike, so two are never loaded
    at once. `stamp` (the file's mtime_ns, read here when not given): a file written over
    is loaded again."""
    key = (path, os.stat(path).st_mtime_ns if stamp is None else stamp, device)
    if key not in _LOADED:
        _LOADED.clear()  # never keep two loaded
        _LOADED[key] = Classifier(path, device=device)
    return _LOADED[key]


def label_boxes(image, image_size: tuple[int, int], boxes: np.ndarray, classifier_path: str,
                stamp: int, device: str, frame: Optional[int] = None) -> list[Prediction]:
    """The `boxes` (xyxy, image pixels) of the image cut out and labelled by the classifier
    file: the top TOP_K (label, probability) of each, best first. `image` is the decoded
    pixels (a video frame as shown), else the image file, or the video file with `frame`."""
    classifier = loaded_classifier(classifier_path, device, stamp)
    return classifier.label_boxes(image, boxes, top_k=TOP_K, padding=CROP_PADDING, frame=frame,
                                  image_size=image_size)


def release_loaded(cancel=None) -> None:
    """Forget the loaded classifier (on the device thread, like every classifier run)."""
    _LOADED.clear()


def label_and_store(store, result_id: int, classifier: ClassifierKey, boxes_key: int, image,
                    image_size: tuple[int, int], boxes: np.ndarray, device: str,
                    cancel=None, frame: Optional[int] = None) -> tuple[list[Prediction], str]:
    """`label_boxes`, then the labels saved in the review store for this result and classifier.
    Returns (predictions, why they could not be saved or "")."""
    predictions = label_boxes(image, image_size, boxes, classifier.path, classifier.mtime_ns, device, frame)
    try:
        store.save_classifier_labels(result_id, classifier, boxes_key, predictions).wait()
    except StoreError as exc:  # replaced meanwhile, or a full disk: still shown, only not kept
        return predictions, str(exc)
    return predictions, ""


# --- on the GUI thread --------------------------------------------------------------------------


class ClassifierLabels(QObject):
    labels_ready = Signal()  # the shown image's labels arrived, failed or the classifier changed: redraw
    status = Signal(str)  # a note for the status bar

    def __init__(self, controller, pool, jobs, store, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.controller, self.pool, self.jobs, self.store = controller, pool, jobs, store
        self.chosen: Optional[ChosenClassifier] = None
        self._cache: OrderedDict[tuple, list[Prediction]] = OrderedDict()
        self._failed: dict[tuple, str] = {}
        self._wanted: Optional[tuple] = None  # key of the labels the view wants now
        self._running: Optional[tuple] = None
        self._waiting: Optional[tuple] = None  # (key, args) to start when the running one ends
        self._job = None  # the running key's classifier job on the model thread, once asked for
        self.runs = 0  # how many times the classifier was run (tests count re-runs with it)
        self.pixels = lambda review: None  # a video frame's decoded pixels (set by the video panel)
        controller.view_changed.connect(self._view_changed)

    # choosing ----------------------------------------------------------------------------

    def choose(self, info: Optional[ClassifierInfo]) -> None:
        """Label detections with the classifier `info` describes (None: no classifier)."""
        chosen = None
        if info is not None and not info.error:
            try:
                stamp = os.stat(info.path).st_mtime_ns
            except OSError as exc:
                self.status.emit(f"Cannot use {info.name}: {exc.strerror or exc}")
                stamp = None
            if stamp is not None:
                chosen = ChosenClassifier(str(info.path), info.name, tuple(info.class_names), stamp)
        if chosen == self.chosen:
            return
        self.chosen = chosen
        self._waiting = None
        self._failed.clear()  # choosing again is also how to retry
        if chosen is None:
            self.jobs.run_short(release_loaded)  # on the model thread: never waits here for a run
        self._view_changed()
        self.labels_ready.emit()

    # what the view shows -----------------------------------------------------------------

    def key(self, review: Optional[ReviewRecord]) -> Optional[tuple]:
        if (review is None or self.chosen is None or review.result_id is None or review.failure
                or not len(review.detections)):
            return None
        return review.path, review.result_id, boxes_fingerprint(review.detections), self.chosen.key

    def view(self, review: Optional[ReviewRecord]) -> Optional[LabelsView]:
        """The chosen classifier's labels of `review` (None when no classifier is chosen)."""
        if self.chosen is None:
            return None
        name = self.chosen.name
        key = self.key(review)
        if key is None:
            return LabelsView(name, None, "", "Nothing to label")
        if key in self._cache:
            return LabelsView(name, self._cache[key])
        if key in self._failed:
            return LabelsView(name, None, "failed", f"{name} could not label this image: {self._failed[key]}")
        return LabelsView(name, None, "…", f"{name} is labelling this image…")

    def predictions(self, review: Optional[ReviewRecord]) -> Optional[list[Prediction]]:
        view = self.view(review)
        return view.predictions if view is not None else None

    def _view_changed(self) -> None:
        key = self.key(self.controller.review)
        if key == self._wanted:
            return
        self._wanted = key
        if key is None or key in self._cache or key in self._failed:
            return
        if key == self._running:
            self._waiting = None  # the one wanted is on its way already
            return
        review = self.controller.review
        pixels = self.pixels(review) if review.frame is not None else None
        args = (review.path if pixels is None else pixels, review.detections.image_size,
                review.detections.boxes.copy(), self.controller.device, review.frame)
        if self._running is not None:
            self._waiting = (key, args)  # replaces any older wish
            job = self._job
            if job is not None and self.jobs.running is not job:
                self.jobs.cancel_long(job)  # still queued behind a detection: the wanted one goes instead
        else:
            self._start(key, args)

    # the background work -----------------------------------------------------------------

    def _start(self, key: tuple, args: tuple) -> None:
        """Labels for `key`: the stored ones (read in the pool), else the classifier's."""
        self._running, self._job = key, None  # the table shows "…" meanwhile
        _path, result_id, boxes_key, (classifier_path, stamp) = key
        self.pool.submit(self.store.classifier_labels, result_id, ClassifierKey(classifier_path, stamp), boxes_key,
                         on_done=lambda stored: self._looked_up(key, args, stored),
                         on_error=lambda _message: self._looked_up(key, args, None))  # unreadable: label anew

    def _looked_up(self, key: tuple, args: tuple, stored: Optional[list[Prediction]]) -> None:
        if stored is not None and len(stored) == len(args[2]):
            self._done(key, [list(labels) for labels in stored])
            return
        if key != self._wanted:  # the user has moved on: not worth the device
            self._running = None
            self._next()
            return
        _path, result_id, boxes_key, (classifier_path, stamp) = key
        *labelled, frame = args
        work = partial(label_and_store, self.store, result_id, ClassifierKey(classifier_path, stamp), boxes_key,
                       *labelled, frame=frame)
        self._job = self.jobs.run_short(work, on_done=lambda result: self._classified(key, result))

    def _classified(self, key: tuple, result) -> None:
        """(Main thread.) The model thread's answer for `key`: a JobResult."""
        if result.cancelled and result.value is None:  # never started (or stopped at shutdown)
            self._running, self._job = None, None
            self._next()
            return
        self.runs += 1
        if result.failure:
            self._failed_with(key, result.failure)
            return
        predictions, not_saved = result.value
        if not_saved and key == self._wanted:
            self.status.emit(f"Classifier labels shown but not kept: {not_saved}")
        self._done(key, predictions)

    def _done(self, key: tuple, predictions: list[Prediction]) -> None:
        self._running, self._job = None, None
        self._cache[key] = predictions
        self._cache.move_to_end(key)
        while len(self._cache) > CACHED_IMAGES:
            self._cache.popitem(last=False)
        if key == self._wanted:  # else the user has moved on: kept for later, not shown
            self.labels_ready.emit()
        self._next()

    def _failed_with(self, key: tuple, message: str) -> None:
        self._running, self._job = None, None
        reason = str(message)
        self._failed[key] = reason
        if key == self._wanted:
            self.status.emit(f"The classifier could not label this image: {reason}")
            self.labels_ready.emit()
        self._next()

    def _next(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting[0] == self._wanted and waiting[0] not in self._cache:
            self._start(*waiting)

    # applying labels ---------------------------------------------------------------------

    @staticmethod
    def class_index(review: ReviewRecord, label: str) -> Optional[int]:
        """The detector's class index named `label` (case-insensitive), None when it has none."""
        wanted = label.strip().casefold()
        for index, name in category_choices(review.detections.class_names):
            if name.casefold() == wanted:
                return index
        return None

    def _not_ready(self) -> str:
        c = self.controller
        if self.chosen is None:
            return "No classifier chosen: pick one under Model ▸ Classifier (Tools ▸ Train… makes one)"
        if c.review is None or c.review.result_id is None:
            return "Nothing to label: this image has no analysis yet"
        view = self.view(c.review)
        if view.predictions is None:
            return view.reason
        return ""

    def apply_selected(self) -> str:
        """Relabel the selected detection to the classifier's top label, undoably, when the
        detector has that class; returns what happened, for the status bar."""
        c = self.controller
        problem = self._not_ready()
        if problem:
            return problem
        review, index = c.review, c.selected
        if index < 0:
            return "Select a detection first"
        label, probability = self.view(review).top(index)
        target = self.class_index(review, label)
        if target is None:
            known = ", ".join(name for _i, name in category_choices(review.detections.class_names))
            return (f"Not relabelled: {self.chosen.name} says “{label}”, which is not a class of {review.model} "
                    f"({known}); relabel by hand with L")
        name = review.detections.class_names[target]
        if review.label(index) == target and review.state(index) != PENDING:
            return f"#{index + 1} is {name} already"
        c.decide(RELABELLED, target, index=index)
        if target == int(review.detections.labels[index]):
            return f"#{index + 1} accepted: the classifier agrees it is {name} ({probability:.2f})"
        return f"#{index + 1} relabelled as {name} (classifier {probability:.2f})"

    def plan_all(self) -> "BulkPlan | str":
        """What applying the top label to every pending detection shown would change (for the
        user to confirm), or why nothing can be applied."""
        c = self.controller
        problem = self._not_ready()
        if problem:
            return problem
        review, view = c.review, self.view(c.review)
        changes, unknown = [], set()
        for index in c.visible().tolist():
            top = view.top(index)
            if review.state(index) != PENDING or top is None:
                continue
            target = self.class_index(review, top[0])
            if target is None:
                unknown.add(top[0])
            else:
                changes.append(BulkChange(index, target, review.name(index), float(review.detections.scores[index]),
                                          top[0], float(top[1]), review.detections.class_names[target],
                                          target != int(review.detections.labels[index])))
        if not changes:
            text = "Nothing to apply: no pending detection shown has a classifier label"
            return text + (f" the detector knows ({', '.join(sorted(unknown))} is not a class of {review.model})"
                           if unknown else "")
        return BulkPlan(review, self.chosen.name, tuple(changes), frozenset(unknown))

    def apply_plan(self, plan: "BulkPlan") -> str:
        """Apply a confirmed plan as one undo step; returns what happened."""
        c = self.controller
        if c.review is not plan.review:
            return "Not applied: the image shown has changed"
        c.undo_stack.beginMacro(f"Apply {plan.classifier} labels in {os.path.basename(plan.review.path)}")
        for change in plan.changes:
            c.decide(RELABELLED, change.target, index=change.index)
        c.undo_stack.endMacro()
        count, relabelled = len(plan.changes), sum(1 for change in plan.changes if change.relabels)
        text = (f"Classifier labels applied to {count} pending detection{'s' if count != 1 else ''}: "
                f"{relabelled} relabelled, {count - relabelled} accepted")
        if plan.unknown:
            text += f"; left alone where it said {', '.join(sorted(plan.unknown))} (not a class of {plan.review.model})"
        return text

    # exporting ---------------------------------------------------------------------------

    def export_key(self) -> Optional[ClassifierKey]:
        """The chosen classifier as the review store keys its labels (None: no classifier)."""
        return None if self.chosen is None else ClassifierKey(*self.chosen.key)

    def export_labels(self) -> dict[int, tuple[int, list[Prediction]]]:
        """{result id: (boxes fingerprint, predictions)} for every image the chosen classifier
        has labelled, for an export to add as classifier_label / classifier_score."""
        if self.chosen is None:
            return {}
        return {key[1]: (key[2], predictions) for key, predictions in self._cache.items()
                if key[3] == self.chosen.key}
