"""The `sightline` launcher: --version, mistyped commands, only existing paths open the window,
`train` with no folder opens the wizard (the engine never does), logging and --log-level."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sightline.window
from engine.about import version
from sightline import qt_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def opened(monkeypatch):
    """What the launcher would open, instead of opening it."""
    calls = []
    monkeypatch.setattr(sightline.window, "open_window", lambda paths, level=None: calls.append(("window", paths)) or 0)
    monkeypatch.setattr(sightline.window, "open_wizard", lambda level=None: calls.append(("wizard",)) or 0)
    return calls


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_version(capsys):
    from sightline.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out == f"sightline {version()}\n"
    assert version()[0].isdigit()


def test_a_mistyped_command_names_the_closest_and_opens_nothing(run_cli, opened, tmp_path):
    code, _, err = run_cli("detcet", tmp_path)
    assert code == 2 and "unknown command 'detcet'" in err and "did you mean 'detect'" in err
    code, _, err = run_cli("clasify")
    assert code == 2 and "'classify'" in err
    code, _, err = run_cli("frobnicate")
    assert code == 2 and "neither a command" in err
    assert opened == []


def test_only_existing_paths_open_the_window(run_cli, opened, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"not checked here")
    code, _, err = run_cli(image, tmp_path / "gone.png")
    assert code == 2 and "gone.png" in err and opened == []
    assert run_cli(image, tmp_path)[0] == 0
    assert run_cli()[0] == 0
    assert opened == [("window", [str(image), str(tmp_path)]), ("window", [])]


def test_train_without_a_folder_opens_the_wizard_from_the_launcher_only(run_cli, opened):
    assert run_cli("train")[0] == 0 and opened == [("wizard",)]
    from engine.cli import main as engine_main

    assert engine_main(["train"]) == 2


def test_no_display_is_a_message_not_an_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT), SIGHTLINE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "sightline"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "DISPLAY is not set" in done.stderr and "sightline detect" in done.stderr


def test_missing_xcb_libraries_are_named_with_their_packages():
    ldd = ("\tlibQt6Gui.so.6 => /x/libQt6Gui.so.6 (0x1)\n\tlibxcb-icccm.so.4 => not found\n"
           "\tlibxcb-keysyms.so.1 => not found\n\tlibxcb-icccm.so.4 => not found\n")
    missing = qt_check.missing_from_ldd(ldd)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert [qt_check.debian_package(m) for m in missing] == ["libxcb-icccm4", "libxcb-keysyms1"]
    assert qt_check.debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert qt_check.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"


def test_commands_log_to_the_log_file_and_log_level_sets_stderr(run_cli, home):
    code, out, err = run_cli("--log-level", "info", "models")
    assert code == 0 and "MODEL" in out
    assert "INFO: sightline models" in err
    log = (home / "logs" / "sightline.log").read_text()
    assert "sightline models" in log and "exit status 0" in log
    code, _, err = run_cli("models", "--log-level", "warning")
    assert code == 0 and "INFO" not in err


def test_an_unhandled_exception_lands_in_the_log_file_once_on_stderr(tmp_path):
    script = "from engine.logs import setup_logging\nsetup_logging()\nraise RuntimeError('boom at start')\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT), SIGHTLINE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("Traceback") == 1
    log = (tmp_path / "logs" / "sightline.log").read_text()
    assert "unhandled exception" in log and "RuntimeError: boom at start" in log and "Traceback" in log
