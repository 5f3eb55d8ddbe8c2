"""Where Sightline keeps the user's things: data (review store, trained models), config
(window settings), cache and logs. The platform's folders (through platformdirs: XDG on Linux,
~/Library on macOS, %LOCALAPPDATA% on Windows), or everything under $SIGHTLINE_HOME when it is
set (tests, portable use)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import platformdirs

APP_DIR_NAME = "sightline"
LOG_FILE_NAME = "sightline.log"


def sightline_home() -> Optional[Path]:
    home = os.environ.get("SIGHTLINE_HOME")
    return Path(home).expanduser() if home else None


def _dir(kind: str, below_home: str = "") -> Path:
    home = sightline_home()
    if home is not None:
        return home / below_home if below_home else home
    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    """Review store and trained models (Linux: $XDG_DATA_HOME/sightline, ~/.local/share/sightline)."""
    return _dir("data")


def config_dir() -> Path:
    """Window settings (Linux: $XDG_CONFIG_HOME/sightline, ~/.config/sightline)."""
    return _dir("config")


def cache_dir() -> Path:
    """Things that can be made again (Linux: $XDG_CACHE_HOME/sightline, ~/.cache/sightline)."""
    return _dir("cache", "cache")


def log_dir() -> Path:
    """The log files (Linux: $XDG_STATE_HOME/sightline/log, ~/.local/state/sightline/log)."""
    return _dir("log", "logs")


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME
