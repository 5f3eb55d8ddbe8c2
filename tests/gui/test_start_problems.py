"""The window starts whatever is wrong with SIGHTLINE_HOME or the review store: a dialog says
where the problem is, and a store that works (beside it, else temporary) is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui import app as app_module

UNWRITABLE_FOLDER = Path("/sys/kernel")  # exists, and no one may create files in it


@pytest.fixture
def dialogs(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(app_module.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    return shown


@pytest.mark.parametrize("case", ["home is a file", "home is read-only"])
def test_an_unusable_sightline_home_starts_with_a_temporary_store_and_says_so(case, tmp_path, monkeypatch,
                                                                             qapp, dialogs):
    home = tmp_path / "home-file" if case == "home is a file" else UNWRITABLE_FOLDER
    if case == "home is a file":
        home.write_text("not a folder")
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    settings = app_module.make_settings()
    store = app_module.open_store()
    try:
        assert str(home) in dialogs[-1] and str(store.path) in dialogs[-1] and "temporary" in dialogs[-1]
        assert not str(store.path).startswith(str(home))
        assert Path(settings.fileName()).parent.is_dir()
        if case == "home is a file":
            assert str(home) in dialogs[0] and "Settings are kept in" in dialogs[0]
    finally:
        store.close()


def test_a_damaged_store_is_reported_at_start(tmp_path, monkeypatch, qapp, dialogs):
    home = tmp_path / "home"
    home.mkdir()
    (home / "review.sqlite3").write_bytes(b"this is not a database at all" * 50)
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    store = app_module.open_store()
    try:
        assert store.path == home / "review.sqlite3"
        assert len(dialogs) == 1 and "not an SQLite database" in dialogs[0] and "damaged-" in dialogs[0]
    finally:
        store.close()


def test_a_read_only_home_starts_with_a_temporary_store(monkeypatch, qapp, dialogs):
    monkeypatch.delenv("SIGHTLINE_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(UNWRITABLE_FOLDER))
    store = app_module.open_store()
    try:
        assert str(UNWRITABLE_FOLDER) in dialogs[-1] and "temporary" in dialogs[-1]
        assert store.summaries([], "demo-shapes") == {}  # open and usable
    finally:
        store.close()
