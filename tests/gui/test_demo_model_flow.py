"""The real window with the real bundled demo model, end to end: drop files, automatic
analysis, filter, decide with keys, undo, export and read back, reopen and find it all."""

from __future__ import annotations

import csv
import json
import time

from PySide6.QtCore import Qt
from pycocotools.coco import COCO

from engine.store import ACCEPTED, REJECTED, Decision
from engine.review.exporting import COCO as COCO_KIND
from engine.review.exporting import CSV, IMAGES, INCLUDE_ACCEPTED, INCLUDE_ALL, ExportRequest
from tests.gui.helpers import MODEL_TIMEOUT_MS, drop_paths, key, wait_for_review


def export(qtbot, window, request):
    window.io.last_export = None
    window.io.start_export(request)
    qtbot.waitUntil(lambda: window.io.last_export is not None, timeout=60_000)
    return window.io.last_export


def test_demo_model_end_to_end(qtbot, make_window, scenes, tmp_path):
    window = make_window()
    files = scenes[:2]
    drop_paths(window, files)
    review = wait_for_review(qtbot, window, files[0])
    c = window.controller
    assert review.model == "demo-shapes" and not review.failure
    assert window.jobs.jobs_run == 1
    assert "Last inference" in window.status.inference_label.text()

    began = time.perf_counter()
    window.filter_panel.set_min_score(0.05)  # everything the model kept: overlays made, table filled
    print(f"\nthreshold change to 0.05 re-filtered and redrawn in {(time.perf_counter() - began) * 1000:.1f} ms "
          f"({len(c.visible())} detections shown)")
    visible = c.visible().tolist()
    assert len(visible) >= 2, f"the demo model found too little: {review.detections.scores}"
    assert window.canvas.shown_indices() == sorted(visible)
    assert window.table.table_model.rowCount() == len(visible)

    key(qtbot, window, Qt.Key.Key_J)
    first = c.selected
    key(qtbot, window, Qt.Key.Key_A)
    second = c.selected
    assert second != first
    key(qtbot, window, Qt.Key.Key_R)
    assert window.store.load_result(files[0], "demo-shapes").decisions == {
        first: Decision(ACCEPTED), second: Decision(REJECTED)}
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert second not in window.store.load_result(files[0], "demo-shapes").decisions
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.store.load_result(files[0], "demo-shapes").decisions[second] == Decision(REJECTED)
    hidden = c.review.name(visible[-1])
    window.class_list.set_class_hidden(hidden, True)
    assert all(c.review.name(i) != hidden for i in window.canvas.shown_indices())
    window.class_list.set_class_hidden(hidden, False)
    assert window.jobs.jobs_run == 1  # filtering and reviewing never re-ran the model

    paths = [str(p) for p in files]
    out = tmp_path / "export" / "detections.json"
    report = export(qtbot, window, ExportRequest(COCO_KIND, out, paths, "demo-shapes", min_score=0.05,
                                                 include=INCLUDE_ALL))
    assert report.images == 1 and report.not_analysed == 1
    coco = COCO(str(out))
    annotations = coco.loadAnns(coco.getAnnIds())
    states = {a["detection_index"]: a["review_state"] for a in annotations}
    assert states[first] == ACCEPTED and states[second] == REJECTED
    assert {cat["name"] for cat in coco.loadCats(coco.getCatIds())} == {"circle", "square", "triangle"}
    assert coco.loadImgs(coco.getImgIds())[0]["file_name"] == paths[0]
    assert all("segmentation" in a and "keypoints" in a for a in annotations)

    accepted_only = tmp_path / "export" / "accepted.json"
    export(qtbot, window, ExportRequest(COCO_KIND, accepted_only, paths, "demo-shapes", min_score=0.05,
                                        include=INCLUDE_ACCEPTED))
    only = json.loads(accepted_only.read_text())["annotations"]
    assert [a["detection_index"] for a in only] == [first]

    table = tmp_path / "export" / "detections.csv"
    export(qtbot, window, ExportRequest(CSV, table, paths, "demo-shapes", min_score=0.05))
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(annotations) - 1 and {r["review_state"] for r in rows} <= {"pending", "accepted"}

    before = {p: p.read_bytes() for p in files}
    report = export(qtbot, window, ExportRequest(IMAGES, files[0].parent, paths, "demo-shapes", min_score=0.05))
    assert [p.name for p in report.written] == [files[0].stem + ".annotated.png"]
    assert all(p.read_bytes() == data for p, data in before.items())  # the user's images untouched

    window.close()
    window.store.close()
    again = make_window(files)
    restored = wait_for_review(qtbot, again, files[0], timeout=MODEL_TIMEOUT_MS)
    assert restored.decisions == {first: Decision(ACCEPTED), second: Decision(REJECTED)}
    assert again.jobs.jobs_run == 0


KILL_SCRIPT = r"""
import os, signal, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from engine.store import ACCEPTED, ReviewStore
from gui.main_window import MainWindow

app = QApplication([])
home = os.environ["SIGHTLINE_HOME"]
window = MainWindow(ReviewStore(), QSettings(os.path.join(home, "s.ini"), QSettings.Format.IniFormat),
                    "demo-shapes", "cpu")
window.show()
window.add_paths([sys.argv[1]])
began = time.monotonic()

def poll():
    c = window.controller
    if c.review is None:
        if time.monotonic() - began > 240:
            sys.exit(3)
        QTimer.singleShot(100, poll)
        return
    c.decide(ACCEPTED, index=0)
    c.toggle_reviewed()
    decided = time.monotonic()
    print("decided", c.review.result_id, flush=True)
    QTimer.singleShot(0, lambda: kill_once_committed(decided))

def kill_once_committed(decided):
    # The promise is 'committed within milliseconds' of the decision, not before it returns:
    # the kill comes as soon as the store's writer has nothing queued (nobody waits for it).
    if not window.store.idle:
        QTimer.singleShot(1, lambda: kill_once_committed(decided))
        return
    print("committed after", round((time.monotonic() - decided) * 1000), "ms", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush, no goodbye

QTimer.singleShot(100, poll)
app.exec()
"""


def test_kill_9_right_after_a_decision_loses_nothing(tmp_path, scenes, sightline_home):
    import os
    import subprocess
    import sys

    from engine.store import ReviewStore

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, SIGHTLINE_HOME=str(sightline_home), PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(scenes[0])], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9 and "decided" in proc.stdout, proc.stderr[-2000:]
    committed_ms = int(proc.stdout.split("committed after")[1].split()[0])
    assert committed_ms < 1000  # "within milliseconds" (a few, on an idle machine)
    store = ReviewStore(sightline_home / "review.sqlite3")
    try:
        stored = store.load_result(scenes[0], "demo-shapes")
        assert stored.decisions == {0: Decision(ACCEPTED)} and stored.reviewed
    finally:
        store.close()
