"""Who the application is to the desktop: its icon (every bundled size), its version, and the
desktop file name that Wayland compositors and docks use to match the window to the
launcher written by `sightline --install-desktop`."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.about import APP_ID, version
from engine.resources import resource


def app_icon() -> QIcon:
    icon = QIcon()
    folder = resource("icons", "hicolor")
    for png in sorted(folder.glob(f"*/apps/{APP_ID}.png")):
        side = int(png.parent.parent.name.split("x")[0])
        icon.addFile(str(png), QSize(side, side))
    svg = folder / "scalable" / "apps" / f"{APP_ID}.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    return icon


def apply_identity(app: QApplication) -> None:
    app.setApplicationVersion(version())
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
