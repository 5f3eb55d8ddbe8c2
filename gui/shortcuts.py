"""Help > Keyboard shortcuts (F1): every key of the window, read from the window's QActions
when the list is opened (its own, undo/redo, the Video panel's, any a panel adds later), so
the list cannot drift from what the keys do.

Some keys are switched off while they do not apply (the video keys while no video is on the
canvas, Space's "next unreviewed image" while one is): an action keeps them as its dormant
keys, in the dynamic property "dormant_keys" or, as the Video panel does, as a list of key
strings in its data(); the list shows those too, with the context they work in."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from shiboken6 import getCppPointer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDockWidget, QHeaderView, QLineEdit, QMainWindow,
                               QMenu, QTableWidget, QTableWidgetItem, QToolBar, QVBoxLayout, QWidget)

NATIVE = QKeySequence.SequenceFormat.NativeText


@dataclass(frozen=True)
class Shortcut:
    keys: str  # "Ctrl+Z, Ctrl+Y"
    command: str  # "Undo Accept circle"
    where: str  # "Edit", "Video panel", ...


def _key_strings(action: QAction) -> tuple[list[str], bool]:
    """(keys, whether they are dormant now)."""
    keys = [k.toString(NATIVE) for k in action.shortcuts() if not k.isEmpty()]
    if keys:
        return keys, False
    dormant = action.property("dormant_keys") or action.data()
    if isinstance(dormant, (list, tuple)) and dormant and all(isinstance(k, str) for k in dormant):
        return [QKeySequence(k).toString(NATIVE) for k in dormant if not QKeySequence(k).isEmpty()], True
    return [], False


def _key(action: QAction) -> int:
    """The action's C++ address: one action may come back as different Python wrappers."""
    return getCppPointer(action)[0]


def _menu_titles(window: QMainWindow) -> dict[int, str]:
    """_key(action) -> "Menu ▸ Submenu" for every action in the menu bar."""
    found: dict[int, str] = {}

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {action.text().replace('&', '')}")
            elif not action.isSeparator():
                found.setdefault(_key(action), path)

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return found


def _panel_of(action: QAction) -> str:
    """The title of the dock (or toolbar) whose button shows the action, else ""."""
    for widget in action.associatedObjects():
        while isinstance(widget, QWidget):
            if isinstance(widget, QDockWidget):
                return f"{widget.windowTitle()} panel"
            if isinstance(widget, QToolBar):
                break
            widget = widget.parentWidget()
    return ""


def _command(action: QAction) -> str:
    text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".")
    return text or action.toolTip()


def window_shortcuts(window: QMainWindow) -> list[Shortcut]:
    """Every action of the window with a key, in menu order, then the panels' and the rest."""
    menus = _menu_titles(window)
    order = {key: n for n, key in enumerate(menus)}
    rows: list[tuple[int, Shortcut]] = []
    for action in window.findChildren(QAction):
        keys, dormant = _key_strings(action)
        if not keys or action.isSeparator():
            continue
        key = _key(action)
        where = (menus.get(key) or _panel_of(action) or "Window") + (" (when it applies)" if dormant else "")
        rows.append((order.get(key, len(order)), Shortcut(", ".join(keys), _command(action), where)))
    rows.sort(key=lambda r: (r[0], r[1].where))  # stable: a panel's keys stay in the order it made them
    return [shortcut for _, shortcut in rows]


class ShortcutsDialog(QDialog):
    """The list as a table, with a filter box; rebuilt from the actions each time it opens."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts — Sightline")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: a key or a command")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Key", "Command", "Where"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)  # more keys in view
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.fill(window_shortcuts(window))
        screen = window.screen().availableGeometry() if window.screen() else None
        height = min(720, int(screen.height() * 0.85)) if screen else 640
        self.resize(620, height)

    def fill(self, shortcuts: list[Shortcut]) -> None:
        self.shortcuts = shortcuts
        self.table.setRowCount(len(shortcuts))
        for row, s in enumerate(shortcuts):
            for column, text in enumerate((s.keys, s.command, s.where)):
                item = QTableWidgetItem(text)
                if column == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row, s in enumerate(self.shortcuts):
            hay = f"{s.keys} {s.command} {s.where}".lower()
            self.table.setRowHidden(row, bool(needle) and needle not in hay)

    def as_text(self) -> str:
        """The rows shown, one "keys<TAB>command<TAB>where" a line."""
        return "\n".join(f"{s.keys}\t{s.command}\t{s.where}" for row, s in enumerate(self.shortcuts)
                         if not self.table.isRowHidden(row))


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    """Open the list (non-modal; one at a time: an open one is refreshed and raised)."""
    dialog = window.findChild(ShortcutsDialog, "shortcutsDialog")
    if dialog is None:
        dialog = ShortcutsDialog(window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    else:
        dialog.fill(window_shortcuts(window))
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
