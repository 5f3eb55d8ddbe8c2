"""An unhandled exception in the window (a slot, an event handler, a paint) is logged (by the
hook `engine.logs` installed) and shown in a dialog: the message, "Copy details" (the
traceback), "Open log folder", "Close". The application keeps running. Exceptions that arrive
while the dialog is open are added to it, never stacked as more dialogs."""

from __future__ import annotations

import html
import sys
import traceback
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from engine.logs import install_excepthooks
from engine.paths import log_file
from gui.about import open_log_folder


class ErrorDialog(QDialog):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Sightline: something went wrong")
        self.count = 0
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setMinimumSize(560, 200)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.logs_button = QPushButton("Open log folder")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.logs_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        self.copy_button.clicked.connect(self.copy_details)
        self.logs_button.clicked.connect(open_log_folder)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.details)
        layout.addWidget(buttons)

    def add(self, message: str, details: str) -> None:
        self.count += 1
        more = f" ({self.count} errors so far)" if self.count > 1 else ""
        self.message.setText(f"<b>{html.escape(message)}</b>{more}<br>Sightline keeps running, but what you were "
                             f"doing may not have finished. The details are also in the log file "
                             f"{html.escape(str(log_file()))}.")
        self.details.appendPlainText(details)

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self.details.toPlainText())


class ExceptionReporter(QObject):
    """Replaces sys.excepthook; the dialog is shown on the GUI thread whichever thread raised."""

    caught = Signal(str, str)

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.dialog: Optional[ErrorDialog] = None
        self.previous = sys.excepthook
        self.caught.connect(self.show_error, Qt.ConnectionType.QueuedConnection)

    def hook(self, exc_type, exc, tb) -> None:
        self.previous(exc_type, exc, tb)
        if issubclass(exc_type, KeyboardInterrupt):
            return
        self.caught.emit(f"{exc_type.__name__}: {exc}", "".join(traceback.format_exception(exc_type, exc, tb)))

    def show_error(self, message: str, details: str) -> None:
        if self.dialog is None or not self.dialog.isVisible():
            self.dialog = ErrorDialog(QApplication.activeWindow())
        self.dialog.add(message, details)
        self.dialog.show()
        self.dialog.raise_()


def install_exception_dialog(app: QApplication) -> ExceptionReporter:
    """One reporter per application, made sys.excepthook (again, if something replaced it)."""
    reporter = app.findChild(ExceptionReporter) or ExceptionReporter(app)
    if sys.excepthook != reporter.hook:
        install_excepthooks()
        reporter.previous = sys.excepthook
        sys.excepthook = reporter.hook
    return reporter
