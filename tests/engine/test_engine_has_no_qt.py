"""The engine never imports Qt: importing every engine module loads no Qt module."""

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import engine
for info in pkgutil.walk_packages(engine.__path__, "engine."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6", "qtpy", "superqt"))
print("QT:", ",".join(qt))
print("COUNT:", sum(1 for m in sys.modules if m.startswith("engine.")))
"""


def test_importing_every_engine_module_loads_no_qt():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    assert "QT: \n" in out, out
    count = int(out.split("COUNT:")[1])
    assert count >= 15, f"only {count} engine modules imported; the walk is broken"
