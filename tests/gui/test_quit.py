"""Quitting during a long analysis: the real window, the bundled model, a 6000x4500 image.
The window closes at once, every decision is kept, and the process ends with status 0 within
5 s, with no Qt abort (the model call in progress is abandoned, never waited for)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys, time
from PySide6.QtCore import QTimer
from gui.app import application, create_window, finish
from engine.review import ACCEPTED

big, small = sys.argv[1], sys.argv[2]
app = application()
window = create_window([small], model="demo-shapes", device="cpu")
c = window.controller
state = {"decided": False}

def step():
    if not state["decided"]:
        if c.review is not None and len(c.review.detections):
            c.decide(ACCEPTED, index=0)  # a decision that must survive the quit
            state["decided"] = True
            window.add_paths([big])
        QTimer.singleShot(20, step)
        return
    running = window.jobs.running
    if running is not None and running.path == big and running.work is None:
        time.sleep(0.5)  # well inside the model call
        print("closing", time.time(), flush=True)
        window.close()  # what Ctrl+Q does
        return
    if c.current_path != big and len(window.images) == 2:
        c.open_row(1)
    QTimer.singleShot(20, step)

QTimer.singleShot(20, step)
code = app.exec()
sys.exit(finish(window, code))
"""


def test_quit_during_a_long_analysis_is_prompt_and_clean(tmp_path, scene_dir):
    big = tmp_path / "big.jpg"
    canvas = np.full((4500, 6000, 3), 128, np.uint8)
    canvas[1000:1600, 2000:2600] = (220, 40, 40)
    Image.fromarray(canvas).save(big, quality=90)
    small = tmp_path / "small.png"
    small.write_bytes(next(iter(sorted(scene_dir.glob("*.png")))).read_bytes())
    home = tmp_path / "home"
    env = dict(os.environ, SIGHTLINE_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(big), str(small)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    ended = time.time()
    assert "closing" in out, err[-3000:]
    closed_at = float(out.split("closing", 1)[1].split()[0])
    assert proc.returncode == 0, err[-3000:]
    assert ended - closed_at < 5.0, f"took {ended - closed_at:.1f} s to end"
    assert "Aborted" not in err and "QThread: Destroyed" not in err, err[-3000:]

    from engine.review import ACCEPTED, Decision
    from engine.store import ReviewStore

    store = ReviewStore(home / "review.sqlite3")
    try:
        record = store.load_result(small, "demo-shapes")
        assert record is not None and record.decisions == {0: Decision(ACCEPTED)}
    finally:
        store.close()
