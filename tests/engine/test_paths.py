"""Where Sightline keeps things: the platform's folders, $SIGHTLINE_HOME over all of them; and
the bundled files found through engine.resources."""

import sys

import pytest

from engine import paths
from engine.resources import resource
from engine.store import default_store_path
from engine.weights import user_models_dir


def test_sightline_home_holds_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    assert paths.data_dir() == paths.config_dir() == tmp_path
    assert paths.cache_dir() == tmp_path / "cache" and paths.log_file() == tmp_path / "logs" / "sightline.log"
    assert default_store_path() == tmp_path / "review.sqlite3" and user_models_dir() == tmp_path / "models"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_without_it_the_xdg_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGHTLINE_HOME")
    for name in ("DATA", "CONFIG", "CACHE", "STATE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    assert default_store_path() == tmp_path / "data" / "sightline" / "review.sqlite3"
    assert paths.config_dir() == tmp_path / "config" / "sightline"
    assert paths.cache_dir() == tmp_path / "cache" / "sightline"
    assert paths.log_dir() == tmp_path / "state" / "sightline" / "log"


def test_bundled_files_are_found():
    for parts in (("models", "demo-shapes.pt"), ("style.qss",), ("io.github.sightline.Sightline.desktop",),
                  ("icons", "hicolor", "scalable", "apps", "io.github.sightline.Sightline.svg")):
        assert resource(*parts).is_file(), parts
    assert len(list(resource("samples").glob("*.png"))) == 4
