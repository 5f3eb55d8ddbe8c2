"""The Explain dock's logic: what to explain (the shown image, the selected detection, the
chosen classifier), a cache per image and model, one background run at a time through
`work.start`, and what the view draws."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget

from engine.explain.types import DETECTOR_METHODS, METHODS
from gui.explain import work
from gui.explain.view import ExplainView

CACHED = 64  # explanations kept (a heatmap is one float32 image)
AUTOMATIC = ("gradcam", "gradcam++", "features", "filters")  # quick: run as soon as asked; occlusion waits for Explain


class ExplainPanel(QObject):
    """Joins `ExplainView` to the window: `controller` (image, review, selection, detector),
    `classifier` (the chosen classifier) and `jobs` (passed to `work.start`)."""

    finished = Signal()  # a run ended (done, failed or cancelled); tests wait on it

    def __init__(self, controller, classifier, jobs, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.controller, self.classifier, self.jobs = controller, classifier, jobs
        self.view = ExplainView()
        self.cache: OrderedDict[tuple, work.ExplainResult] = OrderedDict()
        self.errors: dict[tuple, str] = {}
        self.running: Optional[tuple] = None
        self._cancel = None
        self.runs = 0  # explanations computed (tests count re-runs with it)
        self.stages: dict[str, tuple[str, ...]] = {}  # model key -> its stages, once a run told them
        v = self.view
        v.explain_requested.connect(lambda: self.refresh(run=True))
        v.cancel_requested.connect(self.cancel)
        v.source_changed.connect(lambda _: self._choices_changed())
        v.choice_changed.connect(self.refresh)
        controller.view_changed.connect(self.refresh)
        controller.model_changed.connect(lambda _: self._sources_changed())
        classifier.labels_ready.connect(self._sources_changed)
        self._sources_changed()

    # what is asked -------------------------------------------------------------------------

    def _sources_changed(self) -> None:
        sources = [("detector", f"Detector: {self.controller.model}")]
        if self.classifier.chosen is not None:
            sources.append(("classifier", f"Classifier: {self.classifier.chosen.name}"))
        self.view.set_sources(sources)
        self._choices_changed()

    def _model_key(self, source: str) -> tuple:
        if source == "classifier" and self.classifier.chosen is not None:
            return "classifier", *self.classifier.chosen.key
        return "detector", self.controller.model

    def _choices_changed(self) -> None:
        source = self.view.chosen()[0]
        classes = self.classifier.chosen.class_names if source == "classifier" and self.classifier.chosen else ()
        stages = self.stages.get(str(self._model_key(source)))
        self.view.set_choices(METHODS if source == "classifier" else DETECTOR_METHODS, classes, stages)
        self.refresh()

    def request(self) -> tuple[Optional[work.ExplainRequest], str]:
        """The request for what is shown and picked now, or (None, why there is none)."""
        c = self.controller
        source, method, target = self.view.chosen()
        review, path = c.review, getattr(c, "current_path", None)
        if not method or path is None:
            return None, "Open an image to explain"
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError as exc:
            return None, f"Cannot read {path}: {exc.strerror or exc}"
        selected = c.selected if review is not None and c.selected >= 0 else -1
        detection, box = None, None
        if source == "detector" and method == "occlusion":
            if selected < 0:
                return None, "Select a detection to see which regions its score depends on"
            detection = review.detections.select(np.array([selected]))
        if source == "classifier" and selected >= 0 and method != "filters":
            box = tuple(float(v) for v in review.detections.boxes[selected])
        model = self.classifier.chosen.path if source == "classifier" else c.model
        what = () if method == "filters" else (path, stamp, box, target or None)
        if detection is not None:
            what += (tuple(detection.boxes[0].tolist()), int(detection.labels[0]))
        key = (self._model_key(source), method, *what)
        return work.ExplainRequest(path, source, model, c.device, method, detection=detection, box=box,
                                   target=target or None, key=key), ""  # fmt: skip

    # running -------------------------------------------------------------------------------

    def refresh(self, run: bool = False) -> None:
        """Show the cached explanation of what is picked now, or start it (when `run`, or
        when the method is quick), or say why there is nothing to show."""
        request, why = self.request()
        if request is None:
            self.view.show_message(why)
            return
        if request.key in self.cache:
            self.cache.move_to_end(request.key)
            self._show(self.cache[request.key])
        elif request.key in self.errors and not run:
            self.view.show_message(self.errors[request.key])
        elif request.key == self.running:
            return
        elif run or (request.method in AUTOMATIC and self.view.isVisible()):
            self._start(request)
        else:
            self.view.show_message("Press Explain to compute this (it runs the model many times)")

    def _start(self, request: work.ExplainRequest) -> None:
        self.cancel()
        self.errors.pop(request.key, None)
        self.running = request.key
        self.view.show_running(True)
        self.view.show_message("Working…")
        self._cancel = work.start(self.jobs, request, self.view.show_progress,
                                  lambda result, error, cancelled: self._done(request, result, error, cancelled))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel()

    def _done(self, request: work.ExplainRequest, result, error: str, cancelled: bool) -> None:
        if self.running == request.key:
            self.running, self._cancel = None, None
            self.view.show_running(False)
        if result is not None and not cancelled:
            self.runs += 1
            self.cache[request.key] = result
            while len(self.cache) > CACHED:
                self.cache.popitem(last=False)
            if result.stages:
                self.stages[str(request.key[0])] = tuple(s.stage for s in result.stages)
                source = self.view.chosen()[0]
                if str(self._model_key(source)) == str(request.key[0]):
                    self.view.set_choices([self.view.method.itemData(i) for i in range(self.view.method.count())],
                                          self.classifier.chosen.class_names if source == "classifier" else (),
                                          self.stages[str(request.key[0])])  # fmt: skip
        elif error:
            self.errors[request.key] = f"Could not explain: {error}"
        self.finished.emit()
        current, _ = self.request()
        if current is not None and self.running is None and cancelled:
            self.view.show_message("Cancelled")
        elif current is not None and current.key == request.key:
            self.refresh()

    def _show(self, result: work.ExplainResult) -> None:
        if result.picture is not None:
            self.view.show_picture(result.picture, result.caption)
        elif result.stages:
            chosen = self.view.chosen_stage()
            stage = next((s for s in result.stages if s.stage == chosen), result.stages[0])
            channels = ", ".join(str(c) for c in stage.channels)
            self.view.show_map(result.image, stage.maps, f"{stage.stage}: the strongest channels ({channels}); "
                               f"one cell = {stage.stride} px")  # fmt: skip
        else:
            self.view.show_map(result.image, result.values, result.caption, result.box)


def add_explain_dock(window) -> ExplainPanel:
    """The Explain dock on `window` (tabbed with the others on the right), its panel returned."""
    panel = ExplainPanel(window.controller, window.classifier, window.jobs, window)
    dock = window.add_dock(panel.view, "Explain", Qt.DockWidgetArea.RightDockWidgetArea, "explainDock")
    review = window.findChild(QDockWidget, "reviewDock")
    if review is not None:
        window.tabifyDockWidget(review, dock)
        review.raise_()
    dock.visibilityChanged.connect(lambda visible: visible and panel.refresh())
    panel.dock = dock
    return panel
