"""The main toolbar as icons: each action gets the desktop theme's icon when the theme has
one, else the one bundled in resources/icons/actions/ (line icons drawn for the dark palette);
the buttons show the icon alone and the words on hover (tooltip: label, keys, what it does)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QToolBar

from engine.resources import resource

# action name -> freedesktop icon name (the bundled file is resources/icons/actions/<action>.svg)
THEME_NAMES = {
    "open_images": "document-open", "open_folder": "folder-open", "analyse_all": "system-run",
    "previous_image": "go-previous", "next_image": "go-next", "accept": "dialog-ok", "reject": "dialog-cancel",
    "relabel": "edit-rename", "mark_reviewed": "task-complete", "fit": "zoom-fit-best",
    "actual_size": "zoom-original", "export": "document-export",
}
ICON_SIZE = 22
DISABLED_OPACITY = 0.35


def bundled_icon_path(name: str):
    return resource("icons", "actions", f"{name}.svg")


def bundled_icon(name: str) -> QIcon:
    """The bundled SVG, drawn faint when its action is disabled (Qt's own disabled look
    hardly changes light grey lines on the dark palette)."""
    icon = QIcon(str(bundled_icon_path(name)))
    for side in (16, 22, 32, 48):
        faint = QPixmap(side, side)
        faint.fill(Qt.GlobalColor.transparent)
        painter = QPainter(faint)
        painter.setOpacity(DISABLED_OPACITY)
        painter.drawPixmap(0, 0, icon.pixmap(side, side))
        painter.end()
        icon.addPixmap(faint, QIcon.Mode.Disabled)
    return icon


def action_icon(name: str) -> QIcon:
    """The theme's icon for the action, else the bundled one."""
    return QIcon.fromTheme(THEME_NAMES[name], bundled_icon(name))


def hover_text(action: QAction) -> str:
    label = (action.iconText() or action.text()).replace("&", "")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    tip = action.statusTip()
    return f"{label}" + (f" ({keys})" if keys else "") + (f": {tip}" if tip and tip != label else "")


def dress_toolbar(toolbar: QToolBar) -> None:
    """Icons on the toolbar's actions (those THEME_NAMES knows), words in their tooltips."""
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    toolbar.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
    for action in toolbar.actions():
        name = action.objectName()
        if name in THEME_NAMES:
            action.setIcon(action_icon(name))
            action.setToolTip(hover_text(action))
