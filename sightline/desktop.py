"""`sightline --install-desktop`: this installation in the desktop's application menu, for this
user: a freedesktop launcher in $XDG_DATA_HOME/applications (its `Exec=` the absolute path of
this installation's `sightline`, so it works from a virtual environment that is not on PATH)
and the icon in every size in $XDG_DATA_HOME/icons/hicolor. `--uninstall-desktop` removes
exactly those files."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Optional

from engine.about import APP_ID
from engine.console import EXIT_OK, EXIT_USAGE, error
from engine.resources import resource

DESKTOP_FILE = f"{APP_ID}.desktop"
RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
log = logging.getLogger(__name__)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher_command() -> list[str]:
    """How to start this installation: its `sightline` script, else this Python with -m."""
    started_as = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started_as is not None and started_as.name == "sightline" and started_as.is_file():
        return [os.path.abspath(started_as)]
    script = Path(sysconfig.get_path("scripts")) / "sightline"
    if script.is_file():
        return [str(script)]
    return [os.path.abspath(sys.executable), "-m", "sightline"]


def exec_value(command: list[str]) -> str:
    """The `Exec=` value: each argument quoted when the desktop entry spec requires it, then
    escaped as a desktop-file string; files to open are passed as %F."""

    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%")
        if not RESERVED & set(arg):
            return arg
        return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'

    return " ".join(quote(a) for a in command).replace("\\", "\\\\") + " %F"


def desktop_entry(command: list[str]) -> str:
    template = resource(DESKTOP_FILE).read_text(encoding="utf-8")
    lines = [f"Exec={exec_value(command)}" if line.startswith("Exec=") else line for line in template.splitlines()]
    return "\n".join(lines) + "\n"


def icon_files() -> list[tuple[Path, Path]]:
    """(bundled icon, where it goes) for every size."""
    source = resource("icons", "hicolor")
    target = data_home() / "icons" / "hicolor"
    return [(path, target / path.relative_to(source)) for path in sorted(source.rglob(f"{APP_ID}.*"))]


def installed_files() -> list[Path]:
    return [data_home() / "applications" / DESKTOP_FILE] + [target for _, target in icon_files()]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _refresh_caches() -> None:
    """Let the desktop see the MIME types now (the tool is optional). No icon cache is made in
    the user's folder: a stale one would hide other programs' icons installed later."""
    tool = shutil.which("update-desktop-database")
    if tool:
        try:
            subprocess.run([tool, str(data_home() / "applications")], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("update-desktop-database did not run: %s", exc)


def install() -> int:
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        error("--install-desktop writes a freedesktop launcher (Linux and BSD desktops); not on this system")
        return EXIT_USAGE
    desktop = data_home() / "applications" / DESKTOP_FILE
    try:
        _write(desktop, desktop_entry(launcher_command()).encode("utf-8"))
        for source, target in icon_files():
            _write(target, source.read_bytes())
    except OSError as exc:
        error(f"cannot install the desktop launcher: {exc}")
        return EXIT_USAGE
    _refresh_caches()
    log.info("desktop launcher installed: %s", desktop)
    print(f"launcher: {desktop}")
    print(f"icon: {len(icon_files())} sizes in {data_home() / 'icons' / 'hicolor'}")
    print(f"starts: {exec_value(launcher_command())}")
    return EXIT_OK


def uninstall() -> int:
    removed: list[Path] = []
    for path in installed_files():
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            error(f"cannot remove {path}: {exc}")
            return EXIT_USAGE
    _refresh_caches()
    desktop: Optional[Path] = next((p for p in removed if p.suffix == ".desktop"), None)
    print(f"removed {desktop or 'no launcher (none was installed)'} and {len(removed) - bool(desktop)} icon files")
    return EXIT_OK
