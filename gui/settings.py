"""The window's settings (QSettings) as an INI file in Sightline's config folder
(`engine.paths.config_dir()`: $SIGHTLINE_HOME when set, else the platform's, e.g.
~/.config/sightline/settings.ini), beside the data and logs rather than in Qt's own place.
Settings an earlier version kept in Qt's place (~/.config/Sightline/Sightline.conf) are
copied over once."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.paths import config_dir

SETTINGS_FILE = "settings.ini"


def make_settings() -> QSettings:
    """The settings file; a folder that cannot be made (a file, read-only) gets a temporary
    INI file for this run, and the user is told."""
    folder = config_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        temporary = Path(tempfile.mkdtemp(prefix="sightline-settings-")) / SETTINGS_FILE
        QMessageBox.warning(None, "Settings", f"{folder} cannot be used ({exc.strerror or exc})."
                            f"\n\nSettings are kept in {temporary} this time.")
        return QSettings(str(temporary), QSettings.Format.IniFormat)
    path = folder / SETTINGS_FILE
    fresh = not path.exists()
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    if fresh:
        _copy_old_settings(settings)
    return settings


def _copy_old_settings(settings: QSettings) -> None:
    old = QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, "Sightline", "Sightline")
    if old.fileName() == settings.fileName():
        return
    for key in old.allKeys():
        settings.setValue(key, old.value(key))
    settings.sync()
