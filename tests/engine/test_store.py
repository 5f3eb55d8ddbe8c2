"""The review store: round trips, decisions, changed files, video frames, durability."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pytest

from engine import store as S
from engine.review.codec import encode_detections
from engine.review.vocabulary import Vocabulary
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore, StoreError
from engine.types import CroppedMask, Detections

CLASSES = ("__background__", "circle", "square", "triangle")


def make_detections(n: int = 3, height: int = 60, width: int = 80, keypoints: bool = True) -> Detections:
    rng = np.random.default_rng(n)
    boxes = np.array([[5 + i, 6 + i, 30 + i, 40 + i] for i in range(n)], np.float32).reshape(-1, 4)
    masks = tuple(CroppedMask(5 + i, 6 + i, rng.random((34, 25)) > 0.5) for i in range(n))
    kps = rng.random((n, 4, 3)).astype(np.float32) if keypoints else None
    return Detections(
        image_size=(height, width), boxes=boxes, scores=np.linspace(0.9, 0.3, n).astype(np.float32),
        labels=np.arange(n, dtype=np.int64) % 3 + 1, class_names=CLASSES, masks=masks, keypoints=kps,
        keypoint_names=("top", "right", "bottom", "left") if keypoints else (),
        skeleton=((0, 1), (1, 2)) if keypoints else (), model_name="demo-shapes", inference_seconds=0.25,
    )


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"not really a png, the store only stats it")
    return path


@pytest.fixture
def store(tmp_path):
    s = ReviewStore(tmp_path / "review.sqlite3")
    yield s
    s.close()


def test_round_trip_keeps_every_array(store, image):
    det = make_detections()
    rid = store.save_result(image, "demo-shapes", det)
    back = store.load_result(image, "demo-shapes")
    assert back.result_id == rid and back.decisions == {} and not back.reviewed
    got = back.detections
    np.testing.assert_array_equal(got.boxes, det.boxes)
    np.testing.assert_array_equal(got.scores, det.scores)
    np.testing.assert_array_equal(got.labels, det.labels)
    np.testing.assert_array_equal(got.keypoints, det.keypoints)
    assert got.class_names == CLASSES and got.skeleton == det.skeleton
    assert got.keypoint_names == det.keypoint_names and got.image_size == (60, 80)
    for a, b in zip(got.masks, det.masks):
        assert (a.x0, a.y0) == (b.x0, b.y0)
        np.testing.assert_array_equal(a.bitmap, b.bitmap)


def test_empty_and_failed_results(store, image):
    det = Detections.empty((10, 20), CLASSES, failure="out of memory")
    store.save_result(image, "m", det)
    back = store.load_result(image, "m").detections
    assert len(back) == 0 and back.failure == "out of memory" and back.masks is None


def test_results_are_per_model(store, image):
    store.save_result(image, "one", make_detections(2))
    assert store.load_result(image, "two") is None
    assert len(store.load_result(image, "one").detections) == 2


def test_decisions_round_trip_and_clear(store, image):
    rid = store.save_result(image, "m", make_detections())
    store.set_decision(rid, 0, Decision(ACCEPTED))
    store.set_decision(rid, 1, Decision(RELABELLED, 3))
    store.set_decision(rid, 2, Decision(REJECTED))
    store.set_decision(rid, 2, None)
    store.set_reviewed(rid, True)
    back = store.load_result(image, "m")
    assert back.decisions == {0: Decision(ACCEPTED), 1: Decision(RELABELLED, 3)}
    assert back.reviewed


def test_decision_validation():
    with pytest.raises(ValueError):
        Decision("maybe")
    with pytest.raises(ValueError):
        Decision(RELABELLED)
    with pytest.raises(ValueError):
        Decision(ACCEPTED, 2)


def test_changed_file_drops_results(store, image):
    rid = store.save_result(image, "m", make_detections())
    store.set_decision(rid, 0, Decision(ACCEPTED))
    image.write_bytes(b"changed content, another size")
    assert store.load_result(image, "m") is None
    assert store.summaries([image], "m") == {}
    store.save_result(image, "m", make_detections(1))
    back = store.load_result(image, "m")
    assert len(back.detections) == 1 and back.decisions == {}


def test_touched_file_is_a_changed_file(store, image):
    store.save_result(image, "m", make_detections())
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert store.load_result(image, "m") is None


def test_summaries(store, tmp_path, image):
    other = tmp_path / "b.png"
    other.write_bytes(b"x")
    rid = store.save_result(image, "m", make_detections(3))
    store.set_decision(rid, 1, Decision(REJECTED))
    store.set_reviewed(rid)
    found = store.summaries([str(image), str(other), str(tmp_path / "missing.png")], "m")
    assert list(found) == [str(image)]
    summary = found[str(image)]
    assert summary.reviewed and summary.decided == 1 and summary.failure == ""
    assert len(summary.scores) == 3 and summary.rejected == {1}
    assert summary.count(0.0) == 2 and summary.count(0.5) == 1


def test_video_frames_share_the_store_with_stills(store, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"video bytes")
    stamp = S.fingerprint(video)
    ids = [store.save_result(video, "m", make_detections(i + 1), frame=i * 5, stamp=stamp) for i in range(3)]
    store.save_result(video, "m", make_detections(1))  # a still result for the same file
    assert store.frames(video, "m") == [0, 5, 10]
    assert len(store.load_result(video, "m", frame=10).detections) == 3
    assert store.load_result(video, "m", frame=3) is None
    assert len(set(ids)) == 3
    store.set_decision(ids[1], 0, Decision(ACCEPTED))
    assert store.load_result(video, "m", frame=5).decisions == {0: Decision(ACCEPTED)}


def test_saving_again_replaces_result_and_decisions(store, image):
    rid = store.save_result(image, "m", make_detections(3))
    store.set_decision(rid, 0, Decision(ACCEPTED))
    rid2 = store.save_result(image, "m", make_detections(2))
    assert rid2 != rid
    assert store.load_result(image, "m").decisions == {}
    with pytest.raises(StoreError):
        store.set_decision(rid, 0, Decision(ACCEPTED)).wait()


def test_wal_mode_and_schema_version(store, image):
    store.save_result(image, "m", make_detections())
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == S.SCHEMA_VERSION
    conn.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={S.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        ReviewStore(path)


def test_default_path_follows_sightline_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    assert S.default_store_path() == tmp_path / "home" / "review.sqlite3"


def test_threads_use_their_own_connections(store, tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"img{i}.png"
        p.write_bytes(bytes([i]) * (i + 1))
        paths.append(p)
    errors = []

    def work(p):
        try:
            for _ in range(5):
                rid = store.save_result(p, "m", make_detections(2))
                store.set_decision(rid, 0, Decision(ACCEPTED))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(store.load_result(p, "m").decisions == {0: Decision(ACCEPTED)} for p in paths)


def test_masks_are_stored_compactly(store, image):
    det = make_detections(50, height=2000, width=2000, keypoints=False)
    store.save_result(image, "m", det)
    size = sqlite3.connect(store.path).execute("SELECT length(payload) FROM result").fetchone()[0]
    assert size < 50 * 34 * 25 / 8 * 1.5  # about a bit per mask pixel, never full-image masks


KILL_SCRIPT = """
import os, signal, sys, time
from engine.store import ReviewStore, Decision, ACCEPTED
from engine.types import Detections
store = ReviewStore(sys.argv[1])
rid = store.save_result(sys.argv[2], "m", Detections.empty((4, 4), ("bg", "a")))
store.set_decision(rid, 1, Decision(ACCEPTED))  # queued: returns at once
print("decided", flush=True)
time.sleep(1.0)  # the promise: no decision older than one second is lost
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_after_a_decision_loses_nothing(tmp_path, image):
    db = tmp_path / "killed.sqlite3"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(db), str(image)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert "decided" in proc.stdout and proc.returncode == -9, proc.stderr
    reopened = ReviewStore(db)
    try:
        assert reopened.load_result(image, "m").decisions == {1: Decision(ACCEPTED)}
    finally:
        reopened.close()


def test_store_module_imports_no_qt():
    code = "import sys, engine.store; print(any(m.startswith(('PySide', 'PyQt')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# --- classifier labels (schema 2) -------------------------------------------------------------

SHAPES = S.ClassifierKey("/models/shapes.pt", 123)
LABELS = [[("circle", 0.75), ("square", 0.25)], [("square", 0.5), ("triangle", 0.375)], [("triangle", 1.0)]]


def test_classifier_labels_round_trip_per_classifier_and_boxes(store, image):
    rid = store.save_result(image, "m", make_detections(3))
    assert store.classifier_labels(rid, SHAPES, 7) is None
    store.save_classifier_labels(rid, SHAPES, 7, LABELS)
    assert store.classifier_labels(rid, SHAPES, 7) == LABELS
    assert store.classifier_labels(rid, SHAPES, 8) is None  # other boxes: not theirs
    assert store.classifier_labels(rid, S.ClassifierKey(SHAPES.path, 124), 7) is None  # the file written over
    assert store.classifier_labels(rid, S.ClassifierKey("/models/other.pt", 123), 7) is None
    again = [[("square", 0.5)]] * 3
    store.save_classifier_labels(rid, SHAPES, 7, again)  # replaces, never mixes
    assert store.classifier_labels(rid, SHAPES, 7) == again
    store.save_classifier_labels(rid, SHAPES, 7, LABELS[:2])  # not every detection: none shown
    assert store.classifier_labels(rid, SHAPES, 7) is None


def test_classifier_labels_go_with_their_result(store, image):
    rid = store.save_result(image, "m", make_detections(3))
    store.save_classifier_labels(rid, SHAPES, 7, LABELS)
    rid2 = store.save_result(image, "m", make_detections(3))  # a re-analysis
    assert store.classifier_labels(rid2, SHAPES, 7) is None
    assert store.classifier_labels(rid, SHAPES, 7) is None
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM classifier_label").fetchone()[0] == 0
    conn.close()
    with pytest.raises(StoreError):
        store.save_classifier_labels(rid, SHAPES, 7, LABELS).wait()  # the replaced result is gone
    store.save_classifier_labels(rid2, SHAPES, 7, LABELS)
    store.forget(image)
    assert store.classifier_labels(rid2, SHAPES, 7) is None


def test_classifier_labels_survive_reopening(tmp_path, image):
    path = tmp_path / "review.sqlite3"
    first = ReviewStore(path)
    rid = first.save_result(image, "m", make_detections(3))
    first.save_classifier_labels(rid, SHAPES, 7, LABELS)
    first.close()
    second = ReviewStore(path)
    assert second.classifier_labels(rid, SHAPES, 7) == LABELS
    second.close()


_SCHEMA_1 = """
CREATE TABLE media (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL);
CREATE TABLE vocabulary (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
CREATE TABLE result (id INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE, model TEXT NOT NULL,
    frame INTEGER NOT NULL, height INTEGER NOT NULL, width INTEGER NOT NULL,
    vocabulary_id INTEGER NOT NULL REFERENCES vocabulary(id), count INTEGER NOT NULL, scores BLOB NOT NULL,
    payload BLOB NOT NULL, inference_seconds REAL NOT NULL, failure TEXT NOT NULL,
    reviewed INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, UNIQUE (media_id, model, frame));
CREATE TABLE decision (result_id INTEGER NOT NULL REFERENCES result(id) ON DELETE CASCADE,
    detection INTEGER NOT NULL, state TEXT NOT NULL, label INTEGER, updated REAL NOT NULL,
    PRIMARY KEY (result_id, detection));
PRAGMA user_version=1;
"""


def test_a_schema_1_file_opens_keeping_results_and_decisions(tmp_path, image):
    """A review store written by the previous version (schema 1, no classifier_label table)."""
    path = tmp_path / "old.sqlite3"
    det = make_detections(3)
    stamp = S.fingerprint(image)
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_1)
    conn.execute("PRAGMA journal_mode=WAL")
    media = conn.execute("INSERT INTO media (path, size, mtime_ns) VALUES (?,?,?)",
                         (S.media_key(image), stamp.size, stamp.mtime_ns)).lastrowid
    vocabulary = conn.execute("INSERT INTO vocabulary (json) VALUES (?)", (Vocabulary.of(det).to_json(),)).lastrowid
    rid = conn.execute(
        "INSERT INTO result (media_id, model, frame, height, width, vocabulary_id, count, scores, payload,"
        " inference_seconds, failure, reviewed, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (media, "m", S.STILL, 60, 80, vocabulary, 3, det.scores.astype(np.float32).tobytes(),
         encode_detections(det), 0.25, "", 1, 1.0)).lastrowid
    conn.execute("INSERT INTO decision VALUES (?,?,?,?,?)", (rid, 1, RELABELLED, 3, 1.0))
    conn.execute("INSERT INTO decision VALUES (?,?,?,?,?)", (rid, 2, REJECTED, None, 1.0))
    conn.commit()
    conn.close()

    store = ReviewStore(path)
    stored = store.load_result(image, "m")
    assert stored.result_id == rid and stored.reviewed
    assert np.array_equal(stored.detections.boxes, det.boxes)
    assert stored.decisions == {1: Decision(RELABELLED, 3), 2: Decision(REJECTED)}
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == S.SCHEMA_VERSION == 2
    check.close()
    store.save_classifier_labels(rid, SHAPES, 7, LABELS)  # the new table is there
    assert store.classifier_labels(rid, SHAPES, 7) == LABELS
    store.close()
    again = ReviewStore(path)  # and opening it again changes nothing
    assert again.load_result(image, "m").decisions == {1: Decision(RELABELLED, 3), 2: Decision(REJECTED)}
    assert again.classifier_labels(rid, SHAPES, 7) == LABELS
    again.close()
