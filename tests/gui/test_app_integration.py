"""The window as the desktop sees it: icon and desktop file name, Help > About with the version
and folders, and the dialog an unhandled exception brings up while the app keeps running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.about import APP_ID, version
from engine.logs import setup_logging
from engine.paths import log_file
from gui import app as app_module
from gui.about import install_about
from gui.crash_dialog import ErrorDialog, install_exception_dialog


def test_identity_icon_and_desktop_file_name(qapp):
    app_module.application()
    assert qapp.desktopFileName() == APP_ID and qapp.applicationVersion() == version()
    sizes = {s.width() for s in qapp.windowIcon().availableSizes()}
    assert {16, 32, 48, 256} <= sizes


def test_about_shows_version_data_folder_and_log_file(qtbot, make_window, scenes, sightline_home):
    window = make_window(scenes[:1])
    install_about(window)
    shown = []
    qtbot.waitUntil(lambda: window.isVisible())
    QTimer.singleShot(0, lambda: shown.append(window.findChild(QMessageBox)))
    next(a for a in window.actions() if a.objectName() == "about").trigger()
    qtbot.waitUntil(lambda: bool(shown) and shown[0] is not None and shown[0].isVisible(), timeout=5000)
    text = shown[0].text()
    assert version() in text and str(sightline_home) in text and str(log_file()) in text
    shown[0].close()


@pytest.mark.qt_no_exception_capture
def test_an_unhandled_exception_shows_a_dialog_and_the_app_keeps_running(qtbot, qapp, monkeypatch, make_window,
                                                                         scenes, sightline_home):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    setup_logging(console=False)
    reporter = install_exception_dialog(qapp)
    window = make_window(scenes[:1])
    later = []

    def broken_slot():
        raise RuntimeError("the overlay went wrong")

    QTimer.singleShot(0, broken_slot)
    QTimer.singleShot(0, broken_slot)
    QTimer.singleShot(50, lambda: later.append(True))
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.count == 2 and bool(later), timeout=10_000)
    dialog = reporter.dialog
    assert isinstance(dialog, ErrorDialog) and dialog.isVisible() and window.isVisible()
    assert "RuntimeError: the overlay went wrong" in dialog.message.text() and "2 errors" in dialog.message.text()
    assert len(QApplication.topLevelWidgets()) and sum(isinstance(w, ErrorDialog) and w.isVisible()
                                                      for w in QApplication.topLevelWidgets()) == 1
    dialog.copy_button.click()
    copied = QApplication.clipboard().text()
    assert "Traceback" in copied and "broken_slot" in copied
    logged = log_file().read_text()
    assert "unhandled exception" in logged and "the overlay went wrong" in logged
    dialog.close()


def test_a_background_error_lands_in_the_log_file(qtbot, sightline_home):
    from gui.work import WorkPool

    setup_logging(console=False)
    pool = WorkPool(threads=1)
    shown = []

    def unreadable_thumbnail(path):
        raise OSError(f"{path}: disk went away")

    pool.submit(unreadable_thumbnail, "/photos/a.jpg", on_error=shown.append)
    pool.submit(unreadable_thumbnail, "/photos/b.jpg")  # nobody listening: the log still gets it
    qtbot.waitUntil(lambda: bool(shown) and not pool.busy, timeout=10_000)
    pool.shutdown()
    logged = log_file().read_text()
    assert "/photos/a.jpg: disk went away" in logged and "/photos/b.jpg: disk went away" in logged
    assert "unreadable_thumbnail" in logged and "Traceback" in logged


def test_settings_move_to_the_config_folder_once(tmp_path):
    """In a fresh process: Qt reads XDG_CONFIG_HOME once, when it first needs it."""
    script = (
        "from PySide6.QtCore import QSettings\n"
        "from gui.settings import make_settings\n"
        "old = QSettings('Sightline', 'Sightline'); old.setValue('last_folder', '/photos'); old.sync()\n"
        "new = make_settings(); print(new.fileName(), new.value('last_folder'))\n"
        "new.setValue('last_folder', '/videos'); new.sync()\n"
        "print(make_settings().value('last_folder'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SIGHTLINE_HOME"}
    env.update(XDG_CONFIG_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "sightline" / "settings.ini"), "/photos", "/videos"]
