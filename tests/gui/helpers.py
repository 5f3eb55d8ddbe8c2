"""Small helpers shared by the window tests."""

from __future__ import annotations

import warnings

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gui.review.image_list import DONE, FAILED

MODEL_TIMEOUT_MS = 120_000  # the real demo model on 2 busy CPU cores


def drop_paths(window, paths) -> None:
    """Drag files/folders onto the window and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    with warnings.catch_warnings():  # PySide marks the QPoint overload deprecated; it is the only one
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)


def wait_for_review(qtbot, window, path=None, timeout=MODEL_TIMEOUT_MS):
    """Wait until the shown image has its detections (of `path` when given)."""
    c = window.controller

    def ready():
        assert c.review is not None
        if path is not None:
            assert c.review.path == str(path)

    qtbot.waitUntil(ready, timeout=timeout)
    return c.review


def wait_all_analysed(qtbot, window, timeout=MODEL_TIMEOUT_MS):
    qtbot.waitUntil(lambda: all(e.state in (DONE, FAILED) for e in window.images.entries()), timeout=timeout)


def key(qtbot, window, key_, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window, key_, modifier)
