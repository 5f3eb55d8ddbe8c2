"""pytest-qt fixtures for the review window: offscreen Qt, a private SIGHTLINE_HOME (settings,
review store) per test, scene images, and a fast fake model for logic tests."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:  # `tests.gui.helpers` imports also under a bare `pytest`
    sys.path.insert(0, _ROOT)

import time  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings, QTimer  # noqa: E402

from engine.demo.scenes import CLASS_NAMES, make_scene  # noqa: E402
from engine.store import ReviewStore  # noqa: E402
from engine.types import CroppedMask, Detections  # noqa: E402

SCENE_SEEDS = (900009, 900011, 900024, 900025)


@pytest.fixture(autouse=True)
def sightline_home(tmp_path, monkeypatch):
    """Settings and the review store of each test live in its own folder, never the real home."""
    home = tmp_path / "sightline-home"
    home.mkdir()
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    return home


@pytest.fixture
def no_torch_weights(tmp_path, monkeypatch):
    """An empty torchvision cache: every COCO model's weights are missing."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home"


@pytest.fixture(scope="session")
def scene_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    for seed in SCENE_SEEDS:
        Image.fromarray(make_scene(seed).image).save(folder / f"scene-{seed}.png")
    return folder


@pytest.fixture
def scenes(scene_dir, tmp_path) -> list[Path]:
    """Private copies of the scene images (tests may change them)."""
    out = []
    for source in sorted(scene_dir.glob("*.png")):
        target = tmp_path / "images" / source.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(source.read_bytes())
        out.append(target)
    return out


class FakeDetector:
    """Stands in for engine.detect.Detector: a few detections derived from the file, slowly."""

    class_names = ("__background__",) + CLASS_NAMES
    name = "demo-shapes"

    def __init__(self, delay: float = 0.15):
        self.delay = delay
        self.calls = 0
        self.device_info = type("Info", (), {"description": "Fake CPU"})()

    def predict(self, images):
        out = []
        for image in images:
            self.calls += 1
            time.sleep(self.delay)
            height, width = image.shape[:2]
            seed = zlib.crc32(image[::7, ::7].tobytes())
            rng = np.random.default_rng(seed)
            n = 4
            x0 = rng.integers(0, max(1, width - 40), n)
            y0 = rng.integers(0, max(1, height - 40), n)
            boxes = np.stack([x0, y0, x0 + 30, y0 + 30], 1).astype(np.float32)
            masks = tuple(CroppedMask(int(x), int(y), np.ones((30, 30), bool)) for x, y in zip(x0, y0))
            out.append(Detections((height, width), boxes, np.array([0.95, 0.8, 0.6, 0.2], np.float32),
                                  np.array([1, 2, 3, 1], np.int64), self.class_names, masks=masks,
                                  model_name="demo-shapes", inference_seconds=self.delay))
        return out


@pytest.fixture
def fake_model():
    """A FakeDetector (fast, deterministic) for window-logic tests: `make_window` and
    `scheduler` hand it to the device scheduler through its detector factory."""
    return FakeDetector()


@pytest.fixture
def blob_model():
    """A colour-blob detector for the video tests (exact boxes on the synthetic shapes, no torch
    work), handed to the window's device scheduler by `make_window`."""
    import torch

    from tests.engine.video_helpers import BlobDetector

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield BlobDetector()
    torch.set_num_threads(previous)


def factory_for(request):
    """The detector factory a test asked for: the fake one with `fake_model`, else the real."""
    from gui.scheduler import load_detector

    for name in ("fake_model", "blob_model"):
        if name in request.fixturenames:
            detector = request.getfixturevalue(name)
            return lambda model, device: detector
    return load_detector


@pytest.fixture
def make_window(qtbot, sightline_home, request):
    """make_window(paths=(), store=None) -> a shown MainWindow on the demo model, CPU."""
    from gui.main_window import MainWindow

    windows = []

    def make(paths=(), store=None, model="demo-shapes", size=(1280, 800)):
        settings = QSettings(str(sightline_home / "settings.ini"), QSettings.Format.IniFormat)
        store = store or ReviewStore(sightline_home / "review.sqlite3")
        window = MainWindow(store, settings, model, "cpu", detector_factory=factory_for(request))
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        windows.append(window)
        if paths:
            window.add_paths([str(p) for p in paths])
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close()
        window.store.close()


class GapMeter:
    """Longest gap between event-loop ticks (a 5 ms timer) while it runs."""

    def __init__(self, interval_ms: int = 5):
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.max_gap = 0.0
        self.ticks = 0
        self._last = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        self.ticks += 1

    def __enter__(self) -> "GapMeter":
        self._last = time.perf_counter()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


@pytest.fixture
def gap_meter():
    return GapMeter
