"""Screenshots of the real window for a look by eye (not a test).

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python tests/gui/take_screenshots.py OUT_DIR [PATH...]

Opens PATHs (default: the bundled samples) on the demo model, waits for the analysis, selects
a detection, and saves the window at 1280x800 and 1920x1080 as PNG files in OUT_DIR.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("SIGHTLINE_HOME", tempfile.mkdtemp(prefix="sightline-shots-"))

from PySide6.QtCore import QTimer  # noqa: E402

from engine.store import ACCEPTED, REJECTED  # noqa: E402
from gui.app import application, create_window  # noqa: E402

SIZES = ((1280, 800), (1920, 1080))


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    paths = sys.argv[2:]
    app = application()
    window = create_window(paths, model="demo-shapes", device="cpu")
    window.filter_panel.set_min_score(float(os.environ.get("SHOT_MIN_SCORE", "0.5")))
    began = time.monotonic()
    shots = list(SIZES)

    def decide_some() -> None:
        c = window.controller
        visible = c.visible().tolist()
        if len(visible) >= 2:
            c.decide(ACCEPTED, index=visible[0])
            c.decide(REJECTED, index=visible[1])
        window.actions_["rejected"].setChecked(True)
        if visible:
            c.select(visible[0])

    def shoot() -> None:
        if not shots:
            app.quit()
            return
        width, height = shots.pop(0)
        window.showNormal()
        window.resize(width, height)
        QTimer.singleShot(700, lambda: save(width, height))

    def save(width: int, height: int) -> None:
        path = out / f"sightline-{width}x{height}.png"
        window.grab().save(str(path))
        print("saved", path, window.size().width(), window.size().height())
        shoot()

    def wait() -> None:
        if window.controller.review is not None or time.monotonic() - began > 180:
            decide_some()
            QTimer.singleShot(500, shoot)
        else:
            QTimer.singleShot(250, wait)

    QTimer.singleShot(250, wait)
    app.exec()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
