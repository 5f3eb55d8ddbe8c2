"""Wires video into the review window: the Video dock, File ▸ Open video…, Tools ▸ Analyse
video / Export video results…, the player's keys, the status bar's progress and Cancel, and
the canvas (a video frame is shown and reviewed like an image while a video is selected)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox

from engine.images import VIDEO_EXTENSIONS
from gui.video.controller import VideoController
from gui.video.export import export_video, kind_of
from gui.video.player import PlayerWidget

# name: (text, keys); the keys work while a video is on the canvas
KEYS = {
    "play": ("Play / pause video", ["Space"]), "back": ("Previous frame", [","]),
    "forward": ("Next frame", ["."]), "start": ("Jump to the video's start", ["Home"]),
    "end": ("Jump to the video's end", ["End"]),
}
BUTTON_TEXT = {"start": "|◀◀", "back": "◀|", "play": "▶", "forward": "|▶", "end": "▶▶|"}


class VideoPanel:
    def __init__(self, window):
        self.window = window
        self.video = VideoController(window.controller, window)
        self.player = PlayerWidget()
        self.dock = window.add_dock(self.player, "Video", Qt.DockWidgetArea.LeftDockWidgetArea, "videoDock")
        images = window.findChild(QDockWidget, "imagesDock")
        if images is not None:  # a tab beside the image list: the canvas keeps its width
            window.tabifyDockWidget(images, self.dock)
            images.raise_()
        self.active = False  # a video frame is on the canvas
        self.paths: list[str] = []
        self._space = None
        self.export_task = None
        self.actions: dict[str, QAction] = {}
        for name, (text, keys) in KEYS.items():
            action = QAction(text, window)
            action.setObjectName(f"video_{name}")
            action.setData(keys)
            action.setIconText(BUTTON_TEXT[name])
            action.setToolTip(f"{text} ({', '.join(keys)})")
            action.setEnabled(False)
            window.addAction(action)
            self.actions[name] = action
            button = self.player.buttons[name]
            button.setDefaultAction(action)
        self.open_action = QAction("Open &video…", window)
        self.open_action.triggered.connect(self.choose_file)
        self.analyse_action = QAction("Analyse &video range", window)
        self.analyse_action.triggered.connect(self.analyse)
        self.export_action = QAction("Export video results…", window)
        self.export_action.triggered.connect(self.choose_export)
        file_menu = window.menu("File")
        file_menu.insertAction(file_menu.actions()[2], self.open_action)
        window.menu("Tools").addActions([self.analyse_action, self.export_action])
        self._marks_timer = QTimer(window, singleShot=True, interval=150)  # at most ~7 timeline repaints/s
        self._marks_timer.timeout.connect(self._update_marks)
        self._connect()
        self._set_active(False)
        window.classifier.pixels = self.video.frame_pixels  # a frame is labelled from its decoded pixels

    def _connect(self) -> None:
        v, p, w = self.video, self.player, self.window
        a = self.actions
        a["play"].triggered.connect(self._play)
        a["back"].triggered.connect(lambda: self.video.step(-1))
        a["forward"].triggered.connect(lambda: self.video.step(1))
        a["start"].triggered.connect(lambda: (v.pause(), v.seek(0)))
        a["end"].triggered.connect(lambda: (v.pause(), v.seek(v.frame_count - 1)))
        p.seek_requested.connect(self._seek)
        p.speed_chosen.connect(v.set_speed)
        p.live_toggled.connect(self._live_toggled)
        p.analyse_button.clicked.connect(self.analyse)
        p.export_button.clicked.connect(self.choose_export)
        p.videos.activated.connect(lambda i: self.open(self.paths[i]))
        v.opened.connect(self._opened)
        v.frame_image.connect(w.canvas.show_frame)
        v.frame_shown.connect(self._frame_shown)
        v.playing_changed.connect(p.set_playing)
        v.marks_changed.connect(self._marks_timer.start)
        v.live_changed.connect(self._live_changed)
        v.live_result.connect(lambda r: p.show_live(r, v.analyser.stats) if v.analyser else None)
        v.analysis_started.connect(lambda: p.analyse_button.setEnabled(False))
        v.analysis_progress.connect(w.status.show_progress)
        v.analysis_finished.connect(self._analysis_finished)
        v.failed.connect(self._failed)
        w.controller.videos_found.connect(self.add_videos)
        w.controller.current_changed.connect(lambda row: self._set_active(False) if row >= 0 else None)
        w.controller.view_changed.connect(self._marks_timer.start)  # threshold moved: marks follow it
        w.actions_["cancel_all"].triggered.connect(v.cancel_analysis)

    # opening -----------------------------------------------------------------------------

    def choose_file(self) -> None:
        pattern = "Videos (" + " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS)) + ");;All files (*)"
        folder = str(self.window.settings.value("last_folder", os.path.expanduser("~")))
        path, _ = QFileDialog.getOpenFileName(self.window, "Open video", folder, pattern)
        if path:
            self.add_videos([path])

    def add_videos(self, paths: list[str]) -> None:
        for path in paths:
            if path not in self.paths:
                self.paths.append(path)
                self.player.videos.addItem(os.path.basename(path), path)
        if paths:
            self.open(paths[0])
            if len(paths) > 1:
                self.window.status.showMessage(f"{len(paths)} videos: choose one in the Video panel", 10_000)

    def open(self, path: str) -> None:
        self.player.videos.setCurrentIndex(self.paths.index(path) if path in self.paths else -1)
        self.dock.show()
        self.dock.raise_()
        if self.video.path == path and self.video.video is not None:
            self._set_active(True)
            self.video.refresh()
            return
        self.window.status.showMessage(f"Opening {os.path.basename(path)}…", 5000)
        self.window.controller.show_other(None)  # the image shown before leaves the canvas at once
        self.window.canvas.show_image(None)
        self.window.canvas.set_message(f"Opening {os.path.basename(path)}…")
        self.video.open(path)

    def _opened(self, info) -> None:
        self.player.set_video(info, self.video.frame_count)
        if info is None:
            self._set_active(False)
            return
        self._set_active(True)
        self.window.canvas.set_message("")
        warnings = self.video.video.warnings if self.video.video else []
        if warnings:
            self.window.status.showMessage(warnings[-1], 15_000)

    def _failed(self, text: str) -> None:
        self.window.status.showMessage(text, 15_000)
        if self.video.video is None and self.window.controller.current_path is None:
            self.window.canvas.set_message(text)  # (not "Opening…" forever)
        QMessageBox.warning(self.window, "Video", text)

    # the canvas --------------------------------------------------------------------------

    def _set_active(self, active: bool) -> None:
        """While a video frame is on the canvas, Space plays (not "next unreviewed image")."""
        if not active:
            self.video.leave()
        else:
            self.video.come_back()
        if active and not self.active:
            list_view = self.window.image_list
            list_view.selectionModel().clearCurrentIndex()
            list_view.clearSelection()
        self.active = active
        unreviewed = self.window.actions_["next_unreviewed"]
        if active and self._space is None:
            self._space = unreviewed.shortcuts()
            unreviewed.setShortcuts([])
        elif not active and self._space is not None:
            unreviewed.setShortcuts(self._space)
            self._space = None
        for action in self.actions.values():
            action.setShortcuts([QKeySequence(k) for k in action.data()] if active else [])
            action.setEnabled(active)
        if active and self.video.video is not None:
            self.window.setWindowTitle(f"{os.path.basename(self.video.path)} (video) — Sightline")

    def _play(self) -> None:
        self.video.toggle()

    def _seek(self, frame: int) -> None:
        if not self.active:
            self._set_active(True)
        self.video.seek(frame)

    def _frame_shown(self, frame: int) -> None:
        if not self.active:
            self._set_active(True)
        self.player.show_frame(frame)

    def _update_marks(self) -> None:
        threshold = self.window.controller.filter.min_score
        counts = {f: int((s >= threshold).sum()) for f, s in self.video.analysed.items()}
        self.player.set_marks(counts)

    # live and analysis -------------------------------------------------------------------

    def _live_toggled(self, on: bool) -> None:
        if on and self.video.analyser is None:
            if not self.active:
                self._set_active(True)
            if not self.video.start_live():
                self.player.live.setChecked(False)
        elif not on:
            self.video.stop_live()
            self.video.settle()
            self.player.live_rate.setText("Analysis rate: —")  # at once, not when the device lets go

    def _live_changed(self, on: bool) -> None:
        self.player.live.blockSignals(True)
        self.player.live.setChecked(on)
        self.player.live.blockSignals(False)
        if not on:
            self.player.live_rate.setText("Analysis rate: —")

    def analyse(self) -> bool:
        p = self.player
        if self.video.video is None:
            self.window.status.showMessage("Open a video first", 5000)
            return False
        start, end = p.range_start.value(), p.range_end.value()
        duration = p.range_end.maximum()
        started = self.video.analyse(start or None, end if end < duration else None, p.stride.value())
        if started:
            self.player.live.setChecked(False)
            self.window.status.showMessage(f"Analysing {os.path.basename(self.video.path)}, every "
                                           f"{p.stride.value()} frames", 5000)
        return started

    def _analysis_finished(self, cancelled: bool, note: str) -> None:
        self.player.analyse_button.setEnabled(self.video.video is not None)
        self.window.status.hide_progress(cancelled)
        self.window.status.showMessage(note, 15_000)

    # export ------------------------------------------------------------------------------

    def choose_export(self) -> None:
        if self.video.video is None:
            self.window.status.showMessage("Open a video first", 5000)
            return
        stem = os.path.splitext(self.video.path)[0]
        out, _ = QFileDialog.getSaveFileName(
            self.window, "Export video results", stem + "-annotated.mp4",
            "Annotated video (*.mp4 *.avi *.mkv *.mov);;COCO JSON (*.json);;CSV (*.csv)")
        if out:
            self.export(out)

    def export(self, out: str):
        c = self.window.controller
        if os.path.abspath(out) == os.path.abspath(self.video.path):
            self._failed(f"{out} is the video itself; choose another file name")
            return None
        status = self.window.status
        status.showMessage(f"Exporting {os.path.basename(out)}…", 5000)
        self.export_task = self.window.pool.submit(
            export_video, kind_of(out), self.video.path, out, self.window.store, c.model, c.filter.min_score,
            c.filter.hidden_classes, with_cancel=True, on_progress=status.show_progress,
            on_done=self._exported, on_error=lambda text: (status.hide_progress(True), self._failed(text)))
        return self.export_task

    def _exported(self, note: str) -> None:
        self.export_task = None
        self.window.status.hide_progress(False)
        self.window.status.showMessage(note, 20_000)
        self.last_export_note = note

    def shutdown(self) -> None:
        self.video.shutdown()
