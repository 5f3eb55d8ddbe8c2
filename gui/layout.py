"""View ▸ Reset layout: the docks back where and as wide as a first start has them.

The default is the window's state as built, taken before the saved state is restored (the
saved one may hold a dock a panel once widened, or one dragged away). Resetting restores it,
sets the default dock widths again and removes the saved state from the settings, so the
next start is the default one too even if this one does not end normally. A start with no
saved state sets the default widths once the window is shown (before, Qt spreads them with
the window's first size), so a first start and a reset look the same.

`fit_to_screen`: a window's first size, cut to the screen it opens on.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QWidget

DOCK_WIDTHS = {"imagesDock": 260, "reviewDock": 330}  # a first start's widths (px)
STATE_KEY = "window_state"  # where MainWindow keeps saveState()
FRAME = (16, 48)  # room left on the screen for a window manager's frame and title bar


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize to width x height, or less where the screen is smaller (a 1024x700 laptop): the
    window and its frame stay on the screen, never less than the widget's minimum size."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        area = screen.availableGeometry()
        width, height = min(width, area.width() - FRAME[0]), min(height, area.height() - FRAME[1])
    widget.resize(max(width, widget.minimumWidth()), max(height, widget.minimumHeight()))


def default_widths(window) -> None:
    docks = [window.findChild(QDockWidget, name) for name in DOCK_WIDTHS]
    window.resizeDocks(docks, list(DOCK_WIDTHS.values()), Qt.Orientation.Horizontal)


class LayoutReset(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.default = window.saveState()  # as built: call before the saved state is restored
        if window.settings.value(STATE_KEY) is None:
            window.installEventFilter(self)  # the default widths once the window is shown
        self.action = QAction("Reset &layout", window)
        self.action.setObjectName("reset_layout")
        self.action.setToolTip("Put every panel back where and as wide as at first start")
        self.action.setStatusTip(self.action.toolTip())
        self.action.triggered.connect(self.reset)
        view = window.menu("View")
        view.addSeparator()
        view.addAction(self.action)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.window and event.type() == QEvent.Type.Show:
            self.window.removeEventFilter(self)
            QTimer.singleShot(0, lambda: default_widths(self.window))
        return False

    def reset(self) -> None:
        window = self.window
        docks = window.findChildren(QDockWidget)
        on_top = [d for d in docks if window.tabifiedDockWidgets(d) and d.isVisible() and not d.visibleRegion().isEmpty()]
        window.restoreState(self.default)
        for dock in docks:
            if dock.isFloating():  # (a floating dock the default never had stays where it was dragged)
                dock.setFloating(False)
        for dock in on_top:  # the tab the user is on stays on top (the Video panel while a video plays)
            dock.raise_()
        default_widths(window)
        window.settings.remove(STATE_KEY)
        window.settings.sync()
        window.statusBar().showMessage("Layout reset: every panel is back where it starts", 5000)
