"""Small pieces the wizard pages share: message banners, dim labels, durations in words."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


BANNER_STYLES = {
    "error": "background: #4a2326; border: 1px solid #8c3a40; color: #ffd9dc;",
    "warning": "background: #473a1d; border: 1px solid #8a6d2c; color: #ffe9b8;",
    "info": "background: #1f3550; border: 1px solid #2d5f96; color: #d8e9ff;",
    "ok": "background: #1e3d2b; border: 1px solid #2f7a4d; color: #d4f5e0;",
}



class Banner(QLabel):
    """A coloured, word-wrapped message box; hidden while it has no text."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setOpenExternalLinks(False)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        self.setStyleSheet(f"QLabel {{ {BANNER_STYLES[kind]} border-radius: 5px; padding: 8px 10px; }}")
        self.setText(text)
        self.setVisible(bool(text))

    def clear_message(self) -> None:
        self.kind = ""
        self.setText("")
        self.hide()


def dim_label(text: str = "", parent: Optional[QWidget] = None) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("dimLabel")
    label.setWordWrap(True)
    return label


def heading_label(text: str, parent: Optional[QWidget] = None) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    font.setBold(True)
    label.setFont(font)
    return label


def duration(seconds: Optional[float]) -> str:
    """'45 s', '3 min 10 s', '1 h 05 min'."""
    if seconds is None:
        return "..."
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
