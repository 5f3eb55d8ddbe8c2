"""Starting the window: the QApplication, its look, settings (QSettings), the review store,
and what is opened first (the paths given, else the bundled sample images)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.images import IMAGE_EXTENSIONS
from engine.store import ReviewStore, StoreError, default_store_path
from engine.weights import RESOURCES_DIR

SAMPLES_DIR = RESOURCES_DIR / "samples"
SAMPLE_SEEDS = (900001, 900002, 900003, 900004)


def sightline_home() -> Optional[Path]:
    home = os.environ.get("SIGHTLINE_HOME")
    return Path(home) if home else None


def make_settings() -> QSettings:
    """An INI file under $SIGHTLINE_HOME when set (tests, portable use), else the platform's.
    A SIGHTLINE_HOME that cannot be made (a file, read-only) gets a temporary INI file."""
    home = sightline_home()
    if home is not None:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            temporary = Path(tempfile.mkdtemp(prefix="sightline-settings-")) / "settings.ini"
            QMessageBox.warning(None, "Settings", f"SIGHTLINE_HOME={home} cannot be used ({exc.strerror or exc})."
                                f"\n\nSettings are kept in {temporary} this time.")
            return QSettings(str(temporary), QSettings.Format.IniFormat)
        return QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings("Sightline", "Sightline")


def open_store(path: Optional[Path] = None) -> ReviewStore:
    """The review store. If it cannot be opened, say why and use a fresh one beside it, else a
    temporary one; if it was damaged (engine.store_health), say what was kept."""
    wanted = Path(path) if path else default_store_path()
    problems: list[str] = []
    for candidate in (wanted, wanted.with_name("review-recovered.sqlite3"), None):
        temporary = candidate is None
        if temporary:
            candidate = Path(tempfile.mkdtemp(prefix="sightline-store-")) / "review.sqlite3"
        try:
            store = ReviewStore(candidate)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        if problems:
            note = " (a temporary folder the system may empty: copy the file to keep them)" if temporary else ""
            QMessageBox.warning(None, "Review store", "\n".join(problems) +
                                f"\n\nDecisions will be kept in {candidate} this time{note}.")
        if store.health.problem:
            QMessageBox.warning(None, "Review store", store.health.message())
        return store
    raise StoreError("\n".join(problems))


def sample_folder(folder: Path = SAMPLES_DIR) -> Path:
    """The bundled sample images; drawn from the demo scenes when the folder has none."""
    if folder.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir()):
        return folder
    from PIL import Image

    from engine.demo.scenes import make_scene

    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder
    except OSError:
        target = (sightline_home() or Path(default_store_path()).parent) / "samples"
        target.mkdir(parents=True, exist_ok=True)
    for seed in SAMPLE_SEEDS:
        path = target / f"scene-{seed}.png"
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp")
            Image.fromarray(make_scene(seed).image).save(tmp, format="PNG")
            os.replace(tmp, path)
    return target


def choose_model(settings: QSettings) -> str:
    from engine.models import REGISTRY, default_model_name, get_spec

    saved = str(settings.value("model", "") or "")
    if saved in REGISTRY and get_spec(saved).weight_status().available:
        return saved
    return default_model_name()


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Sightline")
    app.setOrganizationName("Sightline")
    from gui.style import apply_style

    apply_style(app)
    return app


def create_window(paths: list[str], settings: Optional[QSettings] = None, store: Optional[ReviewStore] = None,
                  model: Optional[str] = None, device: Optional[str] = None):
    """A shown MainWindow with `paths` being added (the samples when empty)."""
    from gui.main_window import MainWindow

    settings = settings or make_settings()
    store = store or open_store()
    chosen_device = device or str(settings.value("device", "auto"))
    window = MainWindow(store, settings, model or choose_model(settings), chosen_device)
    if settings.value("geometry") is None:
        window.resize(1440, 900)
    window.show()
    window.add_paths(paths or [str(sample_folder())])
    return window


def run_app(paths: list[str]) -> int:
    """`sightline [PATH...]`: open the window; returns the exit code."""
    app = application()
    window = create_window([os.path.abspath(p) for p in paths])
    code = app.exec()
    window.store.close()
    return int(code)
