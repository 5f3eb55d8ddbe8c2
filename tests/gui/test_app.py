"""Starting the window: samples, settings in SIGHTLINE_HOME, the model picker, export dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from gui import app as app_module
from engine.images import load_image
from engine.review.exporting import CSV, INCLUDE_ACCEPTED
from engine.store import ACCEPTED, RELABELLED
from tests.gui.helpers import wait_for_review


def test_empty_samples_folder_gets_demo_scenes(tmp_path):
    folder = app_module.sample_folder(tmp_path / "samples")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"scene-{s}.png" for s in app_module.SAMPLE_SEEDS]


def test_settings_live_in_sightline_home(sightline_home, qapp):
    settings = app_module.make_settings()
    assert settings.format() == QSettings.Format.IniFormat
    assert Path(settings.fileName()).parent == sightline_home


def test_no_paths_opens_the_bundled_samples(qtbot, fake_model, monkeypatch, tmp_path, qapp, sightline_home):
    samples = app_module.sample_folder(tmp_path / "bundled")
    monkeypatch.setattr(app_module, "SAMPLES_DIR", samples)
    monkeypatch.setattr(app_module, "sample_folder", lambda folder=samples: folder)
    window = app_module.create_window([], model="demo-shapes", device="cpu")
    try:
        qtbot.waitUntil(lambda: len(window.images) == 4, timeout=30_000)
        wait_for_review(qtbot, window)
        assert window.windowTitle().startswith("scene-900001.png (1/4)")
        assert Path(window.settings.fileName()).parent == sightline_home
        assert window.store.path == sightline_home / "review.sqlite3"
        area = window.screen().availableGeometry()  # a first start fits the screen (800x600 here)
        assert window.width() == max(min(1440, area.width() - 16), window.minimumWidth()) < 1440
        assert window.height() == max(min(900, area.height() - 48), window.minimumHeight()) < 900
    finally:
        window.close()
        window.store.close()


def test_a_model_without_weights_explains_and_never_runs(qtbot, no_torch_weights, make_window, scenes,
                                                         fake_model):
    window = make_window(scenes[:1], model="maskrcnn_resnet50_fpn_v2")
    qtbot.waitUntil(lambda: "missing" in window.canvas.message, timeout=30_000)
    panel = window.model_panel
    assert panel.current_model() == "maskrcnn_resnet50_fpn_v2"
    assert panel.import_button.isVisibleTo(window)
    assert "hub/checkpoints" in panel.info.text() and "maskrcnn_resnet50_fpn_v2_coco" in panel.info.text()
    assert window.jobs.jobs_run == 0
    panel.set_model("demo-shapes")
    assert window.controller.model == "demo-shapes"
    wait_for_review(qtbot, window)
    assert not panel.import_button.isVisibleTo(window)


def test_export_dialog_builds_the_request(qtbot, make_window, scenes, fake_model, tmp_path):
    window = make_window(scenes[:2])
    wait_for_review(qtbot, window)
    dialog = window.io.export_dialog()
    qtbot.addWidget(dialog)
    dialog.set_kind(CSV)
    assert dialog.destination.text().endswith("detections.csv")
    dialog.destination.setText(str(tmp_path / "out.csv"))
    dialog.include.setCurrentIndex(dialog.include.findData(INCLUDE_ACCEPTED))
    request = dialog.request()
    assert request.kind == CSV and request.destination == tmp_path / "out.csv"
    assert request.include == INCLUDE_ACCEPTED and request.min_score == window.controller.filter.min_score
    assert request.paths == [str(p) for p in scenes[:2]]


def test_export_dialog_writes_crops_of_accepted_detections(qtbot, make_window, scenes, fake_model, tmp_path):
    from engine.review.exporting import CROPS

    window = make_window(scenes[:1])
    review = wait_for_review(qtbot, window)
    c = window.controller
    c.decide(ACCEPTED, index=0)
    c.decide(RELABELLED, 1, index=1)  # a square made a circle: its crop goes to circle/
    window.store.flush()
    dialog = window.io.export_dialog()
    qtbot.addWidget(dialog)
    dialog.set_kind(CROPS)
    assert dialog.margin.isEnabled() and not dialog.include.isEnabled()
    dialog.destination.setText(str(tmp_path / "crops"))
    dialog.margin.setValue(0.0)
    window.io.last_export = None
    window.io.start_export(dialog.request())
    qtbot.waitUntil(lambda: window.io.last_export is not None, timeout=30_000)
    stem = scenes[0].stem
    written = sorted(p.relative_to(tmp_path / "crops").as_posix() for p in (tmp_path / "crops").rglob("*.png"))
    assert written == [f"circle/{stem}-001.png", f"circle/{stem}-002.png"]
    x0, y0, x1, y1 = review.detections.boxes[1].astype(int)
    assert load_image(tmp_path / "crops" / "circle" / f"{stem}-002.png").shape == (y1 - y0, x1 - x0, 3)
