"""`sightline --install-desktop` / `--uninstall-desktop`, the desktop entry and the AppStream
metainfo, checked with the freedesktop validators where they are installed."""

import shutil
import subprocess
from pathlib import Path

import pytest

from engine.about import APP_ID
from sightline import desktop
from sightline.cli import main

ROOT = Path(__file__).resolve().parents[2]
METAINFO = ROOT / "packaging" / f"{APP_ID}.metainfo.xml"


def validate_desktop(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        return
    done = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in done.stdout and "warning" not in done.stdout, done.stdout


def entry(path: Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_install_then_uninstall(xdg, monkeypatch, tmp_path, capsys):
    script = tmp_path / "venv" / "bin" / "sightline"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr("sys.argv", [str(script)])
    assert main(["--install-desktop"]) == 0
    launcher = xdg / "applications" / f"{APP_ID}.desktop"
    values = entry(launcher)
    assert values["Exec"] == f"{script} %F" and values["Icon"] == APP_ID and values["StartupWMClass"] == "Sightline"
    assert "image/jpeg" in values["MimeType"] and "video/mp4" in values["MimeType"]
    validate_desktop(launcher)
    icons = sorted(p.relative_to(xdg / "icons" / "hicolor") for p in (xdg / "icons").rglob(f"{APP_ID}.*"))
    assert Path("scalable/apps", f"{APP_ID}.svg") in icons and Path("48x48/apps", f"{APP_ID}.png") in icons
    assert len(icons) >= 6
    assert str(launcher) in capsys.readouterr().out

    assert main(["--uninstall-desktop"]) == 0
    assert not launcher.exists() and not list((xdg / "icons").rglob(f"{APP_ID}.*"))


def test_exec_quotes_paths_as_the_spec_asks():
    assert desktop.exec_value(["/opt/my apps/bin/sightline"]) == '"/opt/my apps/bin/sightline" %F'
    assert desktop.exec_value(["/x/$HOME/python", "-m", "sightline"]) == '"/x/\\\\$HOME/python" -m sightline %F'
    assert desktop.exec_value(["/x/100%/sightline"]) == "/x/100%%/sightline %F"


def test_without_a_script_the_launcher_runs_this_python(monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["-c"])
    monkeypatch.setattr("sysconfig.get_path", lambda name: str(tmp_path))
    command = desktop.launcher_command()
    assert command[1:] == ["-m", "sightline"] and Path(command[0]).is_absolute()


def test_the_bundled_entry_and_the_metainfo_are_valid(tmp_path):
    validate_desktop(desktop.resource(desktop.DESKTOP_FILE))
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli is not installed")
    done = subprocess.run([tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert f"<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>" in METAINFO.read_text()
