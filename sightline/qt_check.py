"""Before the window starts: would Qt's platform plugin load? Qt aborts the process when it
cannot (exit 134 and a message about plugins), so the common causes are checked first and
named: no display at all, or the system libraries the xcb (X11) plugin needs (a minimal Linux
lacks libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1 and others)."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

# Loaded by Qt at run time, so not in the plugin's link list: checked on their own.
RUNTIME_LIBRARIES = ("libxcb-cursor.so.0",)
_SONAME = re.compile(r"^(lib[\w+.-]+?)\.so\.(\d+)")
PACKAGE_NAMES = {"libX11-xcb.so.1": "libx11-xcb1", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
                 "libOpenGL.so.0": "libopengl0", "libGLX.so.0": "libglx0", "libGLdispatch.so.0": "libglvnd0",
                 "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
                 "libxkbcommon-x11.so.0": "libxkbcommon-x11-0"}


def platform_plugin() -> str:
    """The platform Qt will try: QT_QPA_PLATFORM's first entry, else wayland on a Wayland
    session, else xcb (Linux), else the system's own."""
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if not sys.platform.startswith("linux"):
        return "native"
    wayland = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland"
    return "wayland" if wayland else "xcb"


def debian_package(library: str) -> str:
    """The Debian/Ubuntu package that ships `library` (its usual name: libfoo-bar.so.1 -> libfoo-bar1)."""
    if library in PACKAGE_NAMES:
        return PACKAGE_NAMES[library]
    match = _SONAME.match(library)
    if not match:
        return library
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_from_ldd(output: str) -> list[str]:
    """Library names ldd reports as 'not found', once each, in order."""
    found = [line.split("=>")[0].strip() for line in output.splitlines() if "not found" in line]
    return list(dict.fromkeys(found))


def xcb_plugin() -> Optional[Path]:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_xcb_libraries() -> list[str]:
    plugin, ldd = xcb_plugin(), shutil.which("ldd")
    missing = []
    if plugin is not None and ldd is not None:
        try:
            result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20)
            missing = missing_from_ldd(result.stdout)
        except (OSError, subprocess.SubprocessError):
            missing = []
    for library in RUNTIME_LIBRARIES:
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(library)
    return missing


def window_problem() -> Optional[str]:
    """Why the window cannot open here, in words, or None when nothing is known to be wrong."""
    if platform_plugin() != "xcb":
        return None
    if not os.environ.get("DISPLAY"):
        return ("there is no display to open the window on (DISPLAY is not set). The commands work without "
                "one: sightline detect PATH..., sightline -h for the others")
    missing = missing_xcb_libraries()
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(lib) for lib in missing))
    return (f"Qt's X11 (xcb) platform plugin cannot load: the system libraries {', '.join(missing)} are "
            f"missing. On Debian or Ubuntu: sudo apt-get install {packages} (other systems: the packages "
            "that provide those files)")
