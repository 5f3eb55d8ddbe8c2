"""What this installation is: its name, desktop id and version (`sightline --version`), and
where it keeps things (Help > About)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from engine import paths

APP_NAME = "Sightline"
APP_ID = "io.github.sightline.Sightline"  # desktop file, icon name, Wayland app id, AppStream id
DISTRIBUTION = "sightline"


def version() -> str:
    """The installed distribution's version; in a source checkout that is not installed, the
    version pyproject.toml gives, marked as such."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return _source_version()


def _source_version() -> str:
    import tomllib

    try:
        with open(_install_dir() / "pyproject.toml", "rb") as f:
            return f"{tomllib.load(f)['project']['version']} (source checkout, not installed)"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown (not installed)"


def locations() -> list[tuple[str, str]]:
    """(what, where) for the user's folders and the log file."""
    return [
        ("Data (review store, trained models)", str(paths.data_dir())),
        ("Settings", str(paths.config_dir())),
        ("Log file", str(paths.log_file())),
        ("Installed in", str(_install_dir())),
    ]


def _install_dir() -> Path:
    return Path(__file__).resolve().parent.parent
