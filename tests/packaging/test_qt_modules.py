"""The dependency is PySide6-Essentials (QtCore, QtGui, QtWidgets, QtSvg, QtTest...), not the
whole PySide6 (Addons, WebEngine: over 400 MB more): every Qt module the code imports must be
one Essentials ships."""

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT_IMPORT = re.compile(r"\bPySide6\.(Qt\w+)|from PySide6 import ([\w, ()\n]+)")


def essentials_modules() -> set[str]:
    try:
        files = metadata.files("PySide6_Essentials") or []
    except metadata.PackageNotFoundError:
        pytest.skip("PySide6-Essentials is not installed as its own distribution here")
    return {f.name.split(".")[0] for f in files if len(f.parts) == 2 and f.parts[0] == "PySide6"
            and f.name.startswith("Qt")}


def imported_modules() -> dict[str, str]:
    found = {}
    for path in [p for top in ("engine", "gui", "sightline", "tests", "packaging") for p in (ROOT / top).rglob("*.py")]:
        for dotted, listed in QT_IMPORT.findall(path.read_text(encoding="utf-8")):
            names = [dotted] if dotted else [n.strip() for n in re.split(r"[,()\s]+", listed) if n.startswith("Qt")]
            found.update({name: str(path.relative_to(ROOT)) for name in names})
    return found


def test_every_qt_module_used_is_in_pyside6_essentials():
    shipped, used = essentials_modules(), imported_modules()
    assert {"QtCore", "QtGui", "QtWidgets"} <= set(used)
    assert {name: where for name, where in used.items() if name not in shipped} == {}
    assert '"PySide6-Essentials' in (ROOT / "pyproject.toml").read_text()
