"""The look: Qt's Fusion style with a dark palette (photos and coloured masks read best on
dark grey) and a short style sheet (resources/style.qss) for spacing and emphasis."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.resources import resource

STYLE_SHEET = resource("style.qss")

COLOURS = {
    QPalette.ColorRole.Window: "#25272b",
    QPalette.ColorRole.WindowText: "#e4e6ea",
    QPalette.ColorRole.Base: "#1d1f22",
    QPalette.ColorRole.AlternateBase: "#2a2d32",
    QPalette.ColorRole.ToolTipBase: "#33363c",
    QPalette.ColorRole.ToolTipText: "#e4e6ea",
    QPalette.ColorRole.PlaceholderText: "#8a9099",
    QPalette.ColorRole.Text: "#e4e6ea",
    QPalette.ColorRole.Button: "#31343a",
    QPalette.ColorRole.ButtonText: "#e4e6ea",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2d6cb5",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6cb0ff",
    QPalette.ColorRole.Mid: "#3a3d44",
    QPalette.ColorRole.Dark: "#18191c",
    QPalette.ColorRole.Light: "#43474f",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in COLOURS.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7078"))
    return palette


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    if STYLE_SHEET.is_file():
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
