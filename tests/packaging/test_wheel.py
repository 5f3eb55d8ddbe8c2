"""The wheel, installed (not editable) into a fresh virtual environment and run from a folder
outside the repository: it reports its version, detects with the bundled model, logs to its
log file and installs its desktop launcher. The environment reuses the test environment's
dependencies through a .pth file, so nothing is downloaded."""

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from engine.about import APP_ID

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("engine", "gui", "sightline", "resources", "pyproject.toml", "setup.py", "README.md")


def run(argv, cwd, env, timeout=300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the sources, so the checkout gets no build/ or egg-info."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", dist,
         src], cwd=src, env=dict(os.environ))
    return next(dist.glob("sightline-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel in it; the test environment's packages on a .pth line."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    ours = dict.fromkeys(site.getsitepackages() + [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (purelib / "test-environment.pth").write_text("\n".join(ours) + "\n")
    python = env_dir / "bin" / "python"
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel], cwd=env_dir,
        env=clean_env(env_dir))
    return env_dir


def clean_env(where: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(SIGHTLINE_HOME=str(where / "home"), XDG_DATA_HOME=str(where / "xdg"), PYTHONNOUSERSITE="1")
    return env


def test_the_wheel_holds_every_package_and_the_resources(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for init in [p for top in ("engine", "gui", "sightline") for p in (ROOT / top).rglob("__init__.py")]:
        assert init.relative_to(ROOT).as_posix() in names, init
    for needed in ("models/demo-shapes.pt", "style.qss", f"{APP_ID}.desktop", "samples/scene-900001.png",
                   f"icons/hicolor/scalable/apps/{APP_ID}.svg", f"icons/hicolor/48x48/apps/{APP_ID}.png"):
        assert f"sightline_resources/{needed}" in names, needed
    toolbar_icons = sorted((ROOT / "resources" / "icons" / "actions").glob("*.svg"))
    assert len(toolbar_icons) >= 12
    for icon in toolbar_icons:
        assert f"sightline_resources/icons/actions/{icon.name}" in names, icon.name


def test_installed_wheel_runs_from_elsewhere(installed, tmp_path):
    env, sightline, python = clean_env(tmp_path), installed / "bin" / "sightline", installed / "bin" / "python"
    work = tmp_path / "work"
    work.mkdir()
    assert run([sightline, "--version"], work, env).stdout == "sightline 0.1.0\n"

    where = run([python, "-c", "import engine, gui, sightline, sightline_resources as r; "
                 "print(engine.__file__, gui.__file__, sightline.__file__, r.__file__)"], work, env).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where

    photos = work / "photos"
    photos.mkdir()
    sample = next(installed.rglob("sightline_resources/samples/scene-900001.png"))
    shutil.copy(sample, photos / "scene.png")
    run([sightline, "detect", "photos", "--model", "demo-shapes", "--device", "cpu", "--out", "found.json"], work, env)
    assert json.loads((work / "found.json").read_text())["annotations"]
    assert "sightline detect photos" in (tmp_path / "home" / "logs" / "sightline.log").read_text()

    run([sightline, "--install-desktop"], work, env)
    launcher = (tmp_path / "xdg" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={sightline} %F" in launcher.splitlines()
    assert (tmp_path / "xdg" / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
