"""Starting the window: the QApplication, its look, settings (QSettings), the review store,
and what is opened first (the paths given, else the bundled sample images)."""

from __future__ import annotations

import gc
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.images import IMAGE_EXTENSIONS
from engine.paths import data_dir
from engine.resources import resource
from engine.store import ReviewStore, StoreError, default_store_path
from gui.layout import fit_to_screen
from gui.settings import make_settings

SAMPLES_DIR = resource("samples")
SAMPLE_SEEDS = (900001, 900002, 900003, 900004)


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
        target = data_dir() / "samples"
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
    from gui.app_identity import apply_identity
    from gui.crash_dialog import install_exception_dialog
    from gui.style import apply_style

    apply_style(app)
    apply_identity(app)
    install_exception_dialog(app)
    return app


def create_window(paths: list[str], settings: Optional[QSettings] = None, store: Optional[ReviewStore] = None,
                  model: Optional[str] = None, device: Optional[str] = None):
    """A shown MainWindow with `paths` being added (the samples when empty)."""
    from gui.main_window import MainWindow

    settings = settings or make_settings()
    store = store or open_store()
    chosen_device = device or str(settings.value("device", "auto"))
    window = MainWindow(store, settings, model or choose_model(settings), chosen_device)
    from gui.about import install_about

    install_about(window)
    if settings.value("geometry") is None:
        fit_to_screen(window, 1440, 900)  # a 1024x700 screen gets a window it can show whole
    window.show()
    window.add_paths(paths or [str(sample_folder())])
    return window


def settle_memory() -> None:
    """What start-up built (modules, the window, the model code) lives as long as the app:
    take it out of the cyclic garbage collector's full passes. Those hold the GIL, so every
    thread, the window's included, stops while they walk the heap; frozen, they walk only
    what was made since (a pass over torch's and Qt's start-up objects took 0.3 to 1.3 s)."""
    gc.collect()
    gc.freeze()


def run_app(paths: list[str]) -> int:
    """`sightline [PATH...]`: open the window; returns the exit code."""
    app = application()
    window = create_window([os.path.abspath(p) for p in paths])
    settle_memory()
    code = app.exec()
    return finish(window, int(code))


POOL_GRACE_S = 1.5  # how long short work (a download block, a decode) may take to notice a cancel


def finish(window, code: int) -> int:
    """After the window has closed: make every decision durable and close the store, then
    end. A model call still running on the device thread cannot be interrupted and is not
    waited for: the process ends at once (`os._exit`), so Python never tears down under it."""
    from gui.work import live_workers

    deadline = time.monotonic() + POOL_GRACE_S
    while any(w.running for w in live_workers()) and time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)
    window.store.close()  # commits every queued decision
    if window.jobs.abandoned or any(w.running for w in live_workers()):
        logging.getLogger(__name__).info("quitting with a model call in progress: it is abandoned")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
