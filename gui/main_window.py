"""The review window: composition only. The pieces are
`ReviewController` (state and logic), `Canvas` (photo and overlays), the image list, the
model/filter panels and the detection table (docks), `gui.scheduler` for every model job and `gui.work`
for all other background work.

Room for more: `add_dock(widget, title)` adds a panel (e.g. Video), `menu("Tools")` takes
more entries (e.g. Train classifier…).
"""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDockWidget, QGroupBox, QLabel, QMainWindow, QMenu,
                               QVBoxLayout, QWidget)

from engine.store import ACCEPTED, REJECTED, RELABELLED, ReviewStore
from gui import actions as A
from gui.scheduler import DeviceScheduler, load_detector, set_device_scheduler
from gui.explain.panel import add_explain_dock
from gui.layout import LayoutReset, default_widths
from gui.review.classifier_labels import ClassifierLabels
from gui.review.classifier_tools import ClassifierTools
from gui.segment.train_dialog import install as install_segmenter_tools
from gui.review.controller import ReviewController
from gui.review.detection_table import DetectionTable
from gui.review.filter_panel import ClassList, FilterPanel
from gui.review.image_list import DONE, ImageListModel, ImageListView
from gui.review.model_panel import ModelPanel
from gui.review.relabel_popup import RelabelPopup
from gui.review.thumbnails import ThumbnailCache
from gui.results_import import ResultsImport
from gui.review.weights_download import WeightsDownload
from gui.status import StatusBar
from gui.toolbar_icons import dress_toolbar
from gui.messages import install_messages
from gui.viewer.canvas import Canvas
from gui.video.panel import VideoPanel
from gui.window_io import WindowIO
from gui.work import WorkPool, live_workers

MAX_RECENT = 8


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 6, 8, 8)
    layout.addWidget(widget)
    return box


class MainWindow(QMainWindow):
    def __init__(self, store: ReviewStore, settings: QSettings, model: str, device: str = "auto",
                 parent: Optional[QWidget] = None, detector_factory=load_detector):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Sightline")
        self.setAcceptDrops(True)
        self.store, self.settings = store, settings
        self.pool = WorkPool(threads=2)
        self.jobs = DeviceScheduler(store, self, detector_factory)  # every model job, one at a time
        set_device_scheduler(self.jobs)
        self.thumbnails = ThumbnailCache(parent=self)
        self.images = ImageListModel(self.thumbnails, self)
        self.controller = ReviewController(store, self.images, self.jobs, self.pool, model, device, self)
        self.classifier = ClassifierLabels(self.controller, self.pool, self.jobs, store, self)  # labels from a trained classifier
        self.actions_ = A.build_actions(self)
        self._centred = -1
        self._build_widgets()
        self._build_menus()
        self.io = WindowIO(self)
        self._connect()
        self.classifier_tools = ClassifierTools(self)  # Train classifier…, the classifier picker, Apply label
        self.video_panel = VideoPanel(self)  # the Video dock: player, live mode, analysis, export
        self.downloads = WeightsDownload(self)  # the model panel's Download (NNN MB) of missing weights
        self.results_import = ResultsImport(self)  # File > Import results… (a COCO file into the store)
        self.explain = add_explain_dock(self)  # the Explain dock: Grad-CAM, occlusion, feature maps, filters
        install_segmenter_tools(self)  # Tools ▸ Train segmenter… (issue 15)
        self.messages = install_messages(self)  # status notes whole: tooltip, View > Messages…
        self.layout_reset = LayoutReset(self)  # View ▸ Reset layout (takes the default before the restore)
        self._restore_settings()
        self._refresh_view()
        self.relabel_popup: Optional[RelabelPopup] = None

    # building ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.canvas = Canvas()
        self.setCentralWidget(self.canvas)
        self.image_list = ImageListView(self.images)
        self.images_header = QLabel("No images")
        self.images_header.setObjectName("dimLabel")
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(6, 4, 0, 0)
        layout.addWidget(self.images_header)
        layout.addWidget(self.image_list)
        self.add_dock(left, "Images", Qt.DockWidgetArea.LeftDockWidgetArea, "imagesDock")
        self.model_panel = ModelPanel()
        toggles = ("masks", "boxes", "labels", "keypoints", "rejected")
        self.filter_panel = FilterPanel({k: self.actions_[k] for k in toggles})
        self.class_list = ClassList()
        self.table = DetectionTable()
        panel = QWidget()
        panel.setObjectName("sidePanel")
        column = QVBoxLayout(panel)
        column.setContentsMargins(4, 4, 6, 4)
        column.addWidget(_group("Model", self.model_panel))
        column.addWidget(_group("Show", self.filter_panel))
        column.addWidget(_group("Classes", self.class_list), 1)
        column.addWidget(_group("Detections", self.table), 2)
        self.add_dock(panel, "Review", Qt.DockWidgetArea.RightDockWidgetArea, "reviewDock")
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.status.cancel.setDefaultAction(self.actions_["cancel_all"])
        default_widths(self)

    def add_dock(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea,
                 name: str = "") -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name or f"{title.lower()}Dock")
        dock.setWidget(widget)
        features = QDockWidget.DockWidgetFeature
        dock.setFeatures(features.DockWidgetMovable | features.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        stack = self.controller.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.undo_action, self.redo_action])
        self.recent_menu = QMenu("Recent folders", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.menus = A.build_menus(self, self.actions_, self.undo_action, self.redo_action, self.recent_menu)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        for name in ("open_images", "open_folder", None, "analyse_all", None, "previous_image", "next_image", None,
                     "accept", "reject", "relabel", "mark_reviewed", None, "fit", "actual_size", None, "export"):
            toolbar.addSeparator() if name is None else toolbar.addAction(self.actions_[name])
        self.toolbar = toolbar
        dress_toolbar(toolbar)  # icons (theme, else bundled), words on hover

    def menu(self, title: str) -> QMenu:
        return self.menus[title]

    def _connect(self) -> None:
        c, a = self.controller, self.actions_
        c.view_changed.connect(self._refresh_view)
        c.image_loaded.connect(self.canvas.show_image)
        c.current_changed.connect(self._current_changed)
        c.message.connect(self.canvas.set_message)
        c.status.connect(lambda text: self.status.showMessage(text, 10_000))
        c.inference.connect(self.status.show_inference)
        self._header_timer = QTimer(self, singleShot=True, interval=250)  # at most 4 updates a second
        self._header_timer.timeout.connect(self._update_header)
        self.images.dataChanged.connect(lambda *_: self._header_timer.start())
        c.images_added.connect(lambda _n: self._header_timer.start())
        self.canvas.zoom_changed.connect(self._zoom_changed)
        c.model_changed.connect(self._model_changed)
        self.classifier.labels_ready.connect(self._refresh_view)
        self.jobs.model_state.connect(self.status.show_model_state)
        self.jobs.batch_progress.connect(self.status.show_progress)
        self.jobs.batch_finished.connect(self.status.hide_progress)
        self.image_list.selectionModel().currentChanged.connect(self._list_clicked)
        self.canvas.detection_clicked.connect(c.select)
        self.canvas.context_menu_requested.connect(self._context_menu)
        self.table.detection_selected.connect(c.select)
        self.filter_panel.min_score_changed.connect(lambda v: c.set_filter(c.filter.with_(min_score=v)))
        self.filter_panel.options_changed.connect(c.set_options)
        self.filter_panel.show_rejected_changed.connect(lambda v: c.set_filter(c.filter.with_(show_rejected=v)))
        self.class_list.hidden_changed.connect(lambda h: c.set_filter(c.filter.with_(hidden_classes=h)))
        self.model_panel.model_chosen.connect(c.set_model)
        self.model_panel.device_chosen.connect(self._device_chosen)
        self.model_panel.import_requested.connect(self.io.import_weights)
        triggers = {
            "open_images": self.io.open_images, "open_folder": self.io.open_folder, "export": self.io.export,
            "quit": self.close, "fit": self.canvas.fit, "actual_size": self.canvas.actual_size,
            "zoom_in": lambda: self.canvas.zoom_by(1.25), "zoom_out": lambda: self.canvas.zoom_by(0.8),
            "accept": lambda: c.decide(ACCEPTED), "reject": lambda: c.decide(REJECTED),
            "relabel": lambda: self.relabel(), "clear_decision": lambda: c.clear_decision(),
            "next_detection": lambda: self._step_detection(1), "previous_detection": lambda: self._step_detection(-1),
            "deselect": lambda: c.select(-1), "next_image": lambda: c.step(1), "previous_image": lambda: c.step(-1),
            "next_unreviewed": c.next_unreviewed, "mark_reviewed": self._toggle_reviewed,
            "analyse_all": self.analyse_all, "cancel_all": c.cancel_all, "reanalyse": c.reanalyse_current,
            "import_weights": lambda: self.io.import_weights(""), "shortcuts": self._show_shortcuts,
            "about": self._about, "clear_list": self.clear_list,
        }
        for name, slot in triggers.items():
            a[name].triggered.connect(slot)

    # reacting ----------------------------------------------------------------------------

    def _refresh_view(self) -> None:
        c = self.controller
        visible = c.visible()
        classified = self.classifier.view(c.review)
        self.canvas.show_review(c.review, visible, c.selected, c.options, classified)
        self.table.show_rows(c.review, visible, c.selected, classified)
        self.status.show_scale(c.review.detections.scale_note if c.review is not None else "")
        if c.review is not None:
            counts = c.review.class_counts(c.filter.min_score)
            labels = {c.review.name(i): c.review.label(i) for i in range(len(c.review.detections))}
            self.class_list.set_counts(counts, labels, c.filter.hidden_classes)
        else:
            self.class_list.set_counts({}, {}, c.filter.hidden_classes)
        has_selection = c.review is not None and c.selected >= 0
        for name in ("accept", "reject", "relabel", "clear_decision"):
            self.actions_[name].setEnabled(has_selection)
        self.actions_["mark_reviewed"].setChecked(bool(c.review and c.review.reviewed))
        if has_selection and c.selected != self._centred:
            self.canvas.centre_on_detection(c.selected)  # only when the selection moves, never on a filter change
        self._centred = c.selected

    def _current_changed(self, row: int) -> None:
        index = self.images.index(row)
        selection = self.image_list.selectionModel()
        if selection.currentIndex() != index:
            selection.blockSignals(True)
            selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
            selection.blockSignals(False)
            self.image_list.viewport().update()
        self.image_list.scrollTo(index)
        self.setWindowTitle(f"{self.controller.current_name()} ({row + 1}/{len(self.images)}) — Sightline")
        self._update_header()

    def _list_clicked(self, current, _previous) -> None:
        if current.isValid() and current.row() != self.controller.current_row:
            self.controller.open_row(current.row())

    def _update_header(self) -> None:
        entries = self.images.entries()
        done = sum(1 for e in entries if e.state == DONE)
        reviewed = sum(1 for e in entries if e.reviewed)
        self.images_header.setText(f"{len(entries):,} images · {done:,} analysed · {reviewed:,} reviewed"
                                   if entries else "No images")

    def _zoom_changed(self, scale: float) -> None:
        height, width = self.canvas.image_size()
        self.status.show_zoom(f"{width}×{height} px · {scale * 100:.0f}%" if width else "")

    def _model_changed(self, name: str) -> None:
        self.model_panel.set_model(name)
        self.status.show_model(name, self.controller.device)
        self.settings.setValue("model", name)

    def _device_chosen(self, device: str) -> None:
        self.controller.set_device(device)
        self.status.show_model(self.controller.model, device)
        self.settings.setValue("device", device)

    def _step_detection(self, delta: int) -> None:
        self.controller.select_step(delta)

    def _toggle_reviewed(self) -> None:
        if not self.controller.toggle_reviewed():
            self.actions_["mark_reviewed"].setChecked(False)
            self.status.showMessage("Nothing to mark: this image has no analysis yet", 5000)
        self._update_header()

    def analyse_all(self) -> None:
        count = self.controller.analyse_all()
        self.status.showMessage(f"Analysing {count:,} images" if count else "Every image is analysed already", 5000)

    # relabel and context menu ------------------------------------------------------------

    def relabel(self, index: Optional[int] = None, where=None) -> Optional[RelabelPopup]:
        c = self.controller
        index = c.selected if index is None else index
        if c.review is None or index < 0:
            return None
        c.select(index)
        popup = RelabelPopup(c.review.detections.class_names, c.review.label(index), self)
        popup.chosen.connect(lambda label, i=index: c.decide(RELABELLED, label, index=i))
        popup.named.connect(lambda name, i=index: c.relabel_as_new(name, i))
        item = self.canvas.item(index)
        if where is None and item is not None:
            where = self.canvas.viewport().mapToGlobal(self.canvas.mapFromScene(item.box.bottomLeft()))
        popup.open_at(where if where is not None else self.mapToGlobal(self.rect().center()))
        self.relabel_popup = popup
        return popup

    def _context_menu(self, index: int, position) -> None:
        menu = QMenu(self)
        if index >= 0:
            self.controller.select(index)
            menu.addAction(self.actions_["accept"])
            menu.addAction(self.actions_["reject"])
            relabel = menu.addAction("Relabel…")
            relabel.setShortcut(self.actions_["relabel"].shortcut())
            relabel.triggered.connect(lambda: self.relabel(index, position))
            menu.addAction(self.actions_["clear_decision"])
            menu.addSeparator()
        for name in ("fit", "actual_size", None, "masks", "boxes", "labels", "keypoints", "rejected"):
            menu.addSeparator() if name is None else menu.addAction(self.actions_[name])
        menu.exec(position)

    # files -------------------------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        folders = [p for p in paths if os.path.isdir(p)]
        for folder in folders:
            self.remember_folder(folder)
        self.controller.add_paths(paths)

    def clear_list(self) -> None:
        self.controller.clear_list()
        self.setWindowTitle("Sightline")
        self._update_header()

    def remember_folder(self, folder: str) -> None:
        recent = [f for f in self.settings.value("recent_folders", [], list) or [] if f != folder]
        self.settings.setValue("recent_folders", [folder] + recent[: MAX_RECENT - 1])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = [f for f in (self.settings.value("recent_folders", [], list) or []) if os.path.isdir(f)]
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.io.open_chosen([f]))
        if not recent:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # settings and closing ----------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("window_state")
        if state is not None:
            self.restoreState(state)
        threshold = float(s.value("min_score", 0.5))
        self.filter_panel.set_min_score(threshold)
        self.controller.set_filter(self.controller.filter.with_(min_score=threshold))
        for key in ("masks", "boxes", "labels", "keypoints", "rejected"):
            default = key in A.CHECKED_BY_DEFAULT
            self.actions_[key].setChecked(s.value(f"show/{key}", default, bool))
        self.filter_panel.opacity.setValue(int(s.value("mask_opacity", 45)))
        self.controller.set_options(self.filter_panel.options())
        self.model_panel.set_model(self.controller.model)
        self.model_panel.set_device(self.controller.device)
        self.status.show_model(self.controller.model, self.controller.device)

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("min_score", self.filter_panel.min_score())
        s.setValue("mask_opacity", self.filter_panel.opacity.value())
        for key in ("masks", "boxes", "labels", "keypoints", "rejected"):
            s.setValue(f"show/{key}", self.actions_[key].isChecked())
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Closes at once: everything is cancelled, nothing is waited for (a model call in
        progress is abandoned; `gui.app` flushes the store and ends the process)."""
        self._save_settings()
        self.controller.cancel_all()
        self.downloads.cancel()
        self.video_panel.shutdown()
        self.jobs.shutdown()
        self.pool.shutdown()
        self.thumbnails.shutdown()
        for worker in live_workers():  # the wizard's, if one is open
            worker.request_cancel()
        super().closeEvent(event)

    # help --------------------------------------------------------------------------------

    def _show_shortcuts(self) -> None:
        from gui.shortcuts import show_shortcuts  # generated from the window's actions: it cannot drift

        show_shortcuts(self)

    def _about(self) -> None:
        from gui.about import about_box  # version, data folder, settings and log file

        about_box(self).open()
