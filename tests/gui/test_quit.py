"""Quitting during a long analysis: the real window, the bundled model, a 4800x3600 image
(the demo model is made to run at native size here, as it did before it shrank large images
to its working size, so the model call is long; 6000x4500 would be over the 20-megapixel
limit and refused before the model runs).
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
import engine.demo.model as demo_model
from engine import limits

working_size = limits.model_input_size  # native size for the demo model: a long call to quit inside
native = lambda transform, h, w: (h, w) if getattr(transform, "native", False) else working_size(transform, h, w)
limits.model_input_size = demo_model.model_input_size = native

big, small = sys.argv[1], sys.argv[2]
app = application()
window = create_window([small], model="demo-shapes", device="cpu")
c = window.controller
state = {"decided": False}

def close_now():
    print("closing", time.time(), flush=True)
    window.close()  # what Ctrl+Q does

def started(job):
    if job.path == big:  # the big image is on the device: quit well inside the model call
        QTimer.singleShot(500, close_now)

def step():
    if c.review is not None and len(c.review.detections):
        c.decide(ACCEPTED, index=0)  # a decision that must survive the quit
        window.add_paths([big])
        return
    QTimer.singleShot(20, step)

def opened(added):
    if len(window.images) == 2:
        c.open_row(1)

def give_up():
    print("never started", [(e.path, e.state, e.failure) for e in window.images.entries()], flush=True)
    app.exit(3)

window.jobs.started.connect(started)
c.images_added.connect(opened)
QTimer.singleShot(20, step)
QTimer.singleShot(240_000, give_up)
code = app.exec()
sys.exit(finish(window, code))
"""


def test_quit_during_a_long_analysis_is_prompt_and_clean(tmp_path, scene_dir):
    big = tmp_path / "big.jpg"
    canvas = np.full((3600, 4800, 3), 128, np.uint8)
    canvas[1000:1600, 2000:2600] = (220, 40, 40)
    Image.fromarray(canvas).save(big, quality=90)
    small = tmp_path / "small.png"
    small.write_bytes(next(iter(sorted(scene_dir.glob("*.png")))).read_bytes())
    home = tmp_path / "home"
    env = dict(os.environ, SIGHTLINE_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(big), str(small)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=400)
    finally:
        proc.kill()
    ended = time.time()
    assert "closing" in out, out + err[-3000:]
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
