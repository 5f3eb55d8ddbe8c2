"""The status bar's notes, whole: the bar cuts a long note at its edge, so the note is also its
tooltip, and View > Messages (or a double-click on the status bar) lists the recent notes with
their times, wrapped, to read and copy. A note also survives the mouse passing over a toolbar
button or menu entry (Qt replaces the note by the entry's status tip and then by nothing): it
comes back for the rest of its time."""

from __future__ import annotations

import time
from collections import deque
from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QPlainTextEdit, QStatusBar, QVBoxLayout

MAX_MESSAGES = 500


class MessageLog(QObject):
    """The last MAX_MESSAGES notes of a `gui.status.StatusBar`, as (time, text)."""

    added = Signal(str)  # one line: "HH:MM:SS  text"

    def __init__(self, status, parent=None):
        super().__init__(parent)
        self.entries: deque[tuple[str, str]] = deque(maxlen=MAX_MESSAGES)  # (HH:MM:SS, text)
        self.status = status
        self._note: tuple[str, Optional[float]] = ("", None)  # the note, when it ends (None: never)
        status.message_shown.connect(self._shown)
        status.messageChanged.connect(self._changed)
        status.installEventFilter(self)

    def _shown(self, text: str, timeout: int) -> None:
        self._note = (text, time.monotonic() + timeout / 1000 if timeout > 0 else None)
        if text:
            self.add(text)

    def _changed(self, text: str) -> None:
        self.status.setToolTip(text)  # the whole note on hover
        note, ends = self._note
        if text or not note:
            return
        left = None if ends is None else ends - time.monotonic()
        if left is None or left > 0.1:  # wiped by a status tip, not by its timer: put it back
            QStatusBar.showMessage(self.status, note, 0 if left is None else int(left * 1000))

    def add(self, text: str) -> None:
        entry = (time.strftime("%H:%M:%S"), text)
        if self.entries and self.entries[-1] == entry:
            return  # the same note again within the second
        self.entries.append(entry)
        self.added.emit("  ".join(entry))

    def lines(self) -> list[str]:
        return ["  ".join(entry) for entry in self.entries]

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if obj is self.status and event.type() == QEvent.Type.MouseButtonDblClick:
            show_messages(self.status.window(), self)
            return True
        return False


class MessagesDialog(QDialog):
    def __init__(self, log: MessageLog, parent=None):
        super().__init__(parent)
        self.setObjectName("messagesDialog")
        self.setWindowTitle("Messages — Sightline")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setPlaceholderText("No messages yet")
        self.text.setPlainText("\n".join(log.lines()))
        log.added.connect(self.text.appendPlainText)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy all", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.text.toPlainText()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(720, 360)
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())


def show_messages(window, log: MessageLog) -> MessagesDialog:
    """Open the list (one at a time, non-modal)."""
    dialog = window.findChild(MessagesDialog, "messagesDialog")
    if dialog is None:
        dialog = MessagesDialog(log, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def install_messages(window) -> MessageLog:
    """Keep the window's status notes; View > Messages… shows them."""
    log = MessageLog(window.status, window)
    action = QAction("Messages…", window)
    action.setObjectName("messages")
    action.setStatusTip("Recent status bar messages, whole, with their times")
    action.triggered.connect(lambda: show_messages(window, log))
    view = window.menu("View")
    view.addSeparator()
    view.addAction(action)
    return log
