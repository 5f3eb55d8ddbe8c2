"""Download (NNN MB) in the model panel: the weights arrive in the background with progress,
the model becomes 'cached' and runs; offline, the engine's message (file and folder) shows in
the panel; Cancel, or closing the window, leaves no file behind."""

from __future__ import annotations

import os
import time
import urllib.error

import pytest
import torch
from PySide6.QtCore import Qt

from engine import weights as W
from engine.models import get_spec
from tests.gui.helpers import wait_for_review

MODEL = "fasterrcnn_mobilenet_v3_large_fpn"


def serve_file(monkeypatch, source, block_delay: float = 0.0):
    """engine.weights.download fetches `source` through a file:// URL (the real download:
    .partial, progress, cancel, rename), `block_delay` seconds per 1 MB block."""
    real = W.download
    monkeypatch.setattr(W, "_sha256_prefix_ok", lambda path, name: True)  # our file, not torchvision's

    def download(url, destination, progress=None, cancel=None, timeout=30.0):
        def slow(p):
            time.sleep(block_delay)
            if progress:
                progress(p)

        return real(source.as_uri(), destination, slow, cancel, timeout)

    monkeypatch.setattr(W, "download", download)


def choose(qtbot, window, name=MODEL):
    panel = window.model_panel
    panel.set_model(name)
    assert panel.current_model() == name
    assert panel.download_button.isVisibleTo(window)
    assert panel.download_button.text().startswith("Download (") and "MB)" in panel.download_button.text()
    return panel


def hub_files(no_torch_weights):
    folder = no_torch_weights / "hub" / "checkpoints"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


@pytest.fixture(scope="module")
def state_dict_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pth"
    torch.save(get_spec(MODEL).build().state_dict(), path)
    return path


def test_download_makes_the_model_cached_and_runs_it(qtbot, no_torch_weights, make_window, scenes, fake_model,
                                                     monkeypatch, state_dict_file):
    serve_file(monkeypatch, state_dict_file)
    window = make_window(scenes[:1], model=MODEL)
    qtbot.waitUntil(lambda: "missing" in window.canvas.message, timeout=30_000)
    panel = choose(qtbot, window)
    seen = []
    monkeypatch.setattr(panel, "download_progress", lambda name, p: seen.append(p))
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    assert window.downloads.running and panel.download_bar.isVisibleTo(window)
    assert panel.download_cancel.isVisibleTo(window) and not panel.download_button.isEnabled()
    qtbot.waitUntil(lambda: not window.downloads.running, timeout=60_000)

    status = get_spec(MODEL).weight_status()
    assert status.state == "cached" and status.path.stat().st_size == state_dict_file.stat().st_size
    assert hub_files(no_torch_weights) == [status.path.name]  # no .partial left
    blocks = -(-state_dict_file.stat().st_size // (1 << 20))
    assert seen and seen[-1].done == seen[-1].total == state_dict_file.stat().st_size
    assert len(seen) < blocks, "progress reaches the window throttled, not once a block"
    assert not panel.download_button.isVisibleTo(window) and not panel.download_bar.isVisibleTo(window)
    assert not panel.import_button.isVisibleTo(window) and not panel.download_error.isVisibleTo(window)
    assert "Weights in" in panel.info.text()
    assert not panel.models.itemText(panel.models.findData(MODEL)).startswith("⚠")
    wait_for_review(qtbot, window, scenes[0])  # the model it failed without now runs
    assert window.controller.review.model == MODEL


def test_offline_shows_the_engines_message_with_file_and_folder(qtbot, no_torch_weights, make_window,
                                                                 monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(W.urllib.request, "urlopen", offline)
    window = make_window()
    panel = choose(qtbot, window)
    path = get_spec(MODEL).weights_path()
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.downloads.running, timeout=30_000)

    error = panel.download_error.text()
    assert panel.download_error.isVisibleTo(window)
    assert path.name in error and str(path.parent) in error and "name resolution" in error
    assert "Traceback" not in error and "WeightsMissing" not in error
    assert path.name in panel.info.text() and str(path.parent) in panel.info.text()  # the hint stays
    assert panel.download_button.isVisibleTo(window) and panel.download_button.isEnabled()  # try again
    assert panel.import_button.isVisibleTo(window)
    assert get_spec(MODEL).weight_status().state == "missing" and hub_files(no_torch_weights) == []


def start_slow_download(qtbot, make_window, monkeypatch, tmp_path):
    """A window downloading a 40 MB file slowly (0.05 s a block): (window, model panel)."""
    source = tmp_path / "big.pth"
    source.write_bytes(os.urandom(40 << 20))
    serve_file(monkeypatch, source, block_delay=0.05)
    window = make_window()
    panel = choose(qtbot, window)
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    return window, panel


def test_cancel_leaves_no_file_and_one_download_at_a_time(qtbot, no_torch_weights, make_window, monkeypatch,
                                                          tmp_path):
    window, panel = start_slow_download(qtbot, make_window, monkeypatch, tmp_path)
    qtbot.waitUntil(lambda: "MB" in panel.download_bar.format() and panel.download_bar.value() > 0, timeout=30_000)
    assert "/ 41.9 MB" in panel.download_bar.format()
    assert not window.downloads.start("maskrcnn_resnet50_fpn")  # one download at a time

    qtbot.mouseClick(panel.download_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.downloads.running, timeout=30_000)
    assert hub_files(no_torch_weights) == []
    assert get_spec(MODEL).weight_status().state == "missing"
    assert not panel.download_error.isVisibleTo(window) and not panel.download_bar.isVisibleTo(window)
    assert panel.download_button.isEnabled()


def test_closing_the_window_cancels_the_download(qtbot, no_torch_weights, make_window, monkeypatch, tmp_path):
    window, panel = start_slow_download(qtbot, make_window, monkeypatch, tmp_path)
    qtbot.waitUntil(lambda: panel.download_bar.value() > 0, timeout=30_000)
    began = time.monotonic()
    window.close()  # never waits: the download stops at its next block and removes its file
    assert time.monotonic() - began < 1
    qtbot.waitUntil(lambda: hub_files(no_torch_weights) == [], timeout=10_000)
