"""Help > About: the version, and where Sightline keeps its data, settings and log file (with
a button that opens the log folder)."""

from __future__ import annotations

import html
import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from engine.about import APP_NAME, locations, version
from engine.paths import log_dir


def about_text() -> str:
    rows = "".join(f"<tr><td>{html.escape(what)}:&nbsp;</td><td><code>{html.escape(where)}</code></td></tr>"
                   for what, where in locations())
    return (f"<h3>{APP_NAME} {html.escape(version())}</h3>"
            "<p>Review what detection models see: accept, reject and relabel their detections, then export "
            f"them.</p><table>{rows}</table>"
            f"<p><small>Python {platform.python_version()}, PySide6 {pyside_version}</small></p>")  # fmt: skip


def open_log_folder() -> bool:
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def about_box(parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle(f"About {APP_NAME}")
    box.setTextFormat(box.textFormat().RichText)
    box.setText(about_text())
    icon = parent.windowIcon() if parent is not None else None
    if icon is not None and not icon.isNull():
        box.setIconPixmap(icon.pixmap(96, 96))
    logs = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    logs.clicked.connect(open_log_folder)
    box.addButton(QMessageBox.StandardButton.Close)
    return box


def install_about(window: QMainWindow) -> None:
    """Make the window's Help > About action (object name "about") show this box."""
    action = window.findChild(QAction, "about")
    if action is None:
        action = window.menuBar().addMenu("&Help").addAction("&About Sightline")
    else:
        action.triggered.disconnect()
    action.triggered.connect(lambda: about_box(window).open())
