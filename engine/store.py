"""The review store: every detection result and every review decision, in one SQLite file.

Results and decisions are written the moment they exist, one transaction each, in WAL mode,
so a crash or `kill -9` loses nothing already shown as decided. Reopening the same files
restores everything without running a model, unless a file changed since (its size or
modification time differ), in which case what was stored for it is dropped.

Where it lives: `$SIGHTLINE_HOME/review.sqlite3`, else
`$XDG_DATA_HOME/sightline/review.sqlite3` (default `~/.local/share/sightline/`).

Keys
----
media     one row per file (absolute path), with the size and mtime it had when analysed.
result    what one model found in one still image or one video frame:
          key (media path, model name, frame). `frame=None` is a still image (stored as -1);
          a video stores one result per analysed frame, `frame` = its 0-based frame index.
decision  per detection of a result (by its index in the stored `Detections`): accepted,
          rejected, or relabelled to another class index of the same model. No row = pending.
reviewed  a flag per result: the user marked this image (or frame) done.
classifier_label
          the top-k (label, probability) a trained classifier gave one detection of a result:
          key (result, classifier file path, the file's mtime_ns, detection index), with a
          fingerprint of the result's boxes. Deleted with its result (a re-analysis replaces
          the result, so it never shows another result's labels); a classifier file written
          over has another mtime, so it is another classifier.

Schema versions (PRAGMA user_version): 1 media/vocabulary/result/decision; 2 adds
classifier_label. Opening an older file adds what is missing, in one transaction, and keeps
everything it held.

Using it for video (issue 4)
----------------------------
    store = ReviewStore()                        # one object; safe to share between threads
    stamp = fingerprint(video_path)              # once per video, not per frame
    rid = store.save_result(video_path, detector.name, detections, frame=i, stamp=stamp)
    stored = store.load_result(video_path, detector.name, frame=i)   # or None
    store.frames(video_path, detector.name)      # frame indices that have results
    store.set_decision(rid, detection_index, Decision(ACCEPTED))      # one transaction
    store.save_classifier_labels(rid, ClassifierKey(path, mtime_ns), boxes_crc, predictions)
    store.classifier_labels(rid, ClassifierKey(path, mtime_ns), boxes_crc)   # or None

Each thread gets its own connection; every call is short. The database is never opened
by a front end directly: this module is the only SQL in Sightline.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from engine.store_health import check_store_file
from engine.types import CroppedMask, Detections

SCHEMA_VERSION = 2
STILL = -1  # the frame value of a still image

PENDING, ACCEPTED, REJECTED, RELABELLED = "pending", "accepted", "rejected", "relabelled"
DECISION_STATES = (ACCEPTED, REJECTED, RELABELLED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vocabulary (
    id INTEGER PRIMARY KEY,
    json TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS result (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale id cannot hit a new result
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    frame INTEGER NOT NULL,
    height INTEGER NOT NULL,
    width INTEGER NOT NULL,
    vocabulary_id INTEGER NOT NULL REFERENCES vocabulary(id),
    count INTEGER NOT NULL,
    scores BLOB NOT NULL,
    payload BLOB NOT NULL,
    inference_seconds REAL NOT NULL,
    failure TEXT NOT NULL,
    reviewed INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    UNIQUE (media_id, model, frame)
);
CREATE TABLE IF NOT EXISTS decision (
    result_id INTEGER NOT NULL REFERENCES result(id) ON DELETE CASCADE,
    detection INTEGER NOT NULL,
    state TEXT NOT NULL,
    label INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (result_id, detection)
);
CREATE TABLE IF NOT EXISTS classifier_label (
    result_id INTEGER NOT NULL REFERENCES result(id) ON DELETE CASCADE,
    classifier TEXT NOT NULL,  -- the classifier file's path
    classifier_mtime_ns INTEGER NOT NULL,  -- with its mtime: a file written over is another classifier
    detection INTEGER NOT NULL,
    boxes INTEGER NOT NULL,  -- fingerprint of the result's boxes the labels were made from
    labels TEXT NOT NULL,  -- JSON [[label, probability], ...], best first
    created REAL NOT NULL,
    PRIMARY KEY (result_id, classifier, classifier_mtime_ns, detection)
);
"""
# Every table is CREATE ... IF NOT EXISTS and each version only adds tables, so running the
# schema on an older file is its migration (1 -> 2: classifier_label).


class StoreError(Exception):
    """The review store cannot be opened or used; str() says which file and why."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one version of a file: its size and modification time."""

    size: int
    mtime_ns: int


def fingerprint(path: str | os.PathLike) -> Optional[Fingerprint]:
    """The file's current fingerprint, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return Fingerprint(st.st_size, st.st_mtime_ns)


def media_key(path: str | os.PathLike) -> str:
    """The path as the store keys it: absolute, normalised (symlinks kept as given)."""
    return os.path.normcase(os.path.abspath(os.fspath(path)))


@dataclass(frozen=True)
class Decision:
    """A reviewer's call on one detection; `label` is the new class index when relabelled."""

    state: str
    label: Optional[int] = None

    def __post_init__(self):
        if self.state not in DECISION_STATES:
            raise ValueError(f"unknown decision state '{self.state}'")
        if (self.state == RELABELLED) != (self.label is not None):
            raise ValueError("a relabel needs a label, and only a relabel has one")


@dataclass(frozen=True)
class ClassifierKey:
    """Which classifier made some labels: its file and that file's mtime_ns."""

    path: str
    mtime_ns: int


Label = tuple[str, float]  # (label, probability), as engine.classify gives them


@dataclass
class StoredResult:
    """One stored result with its decisions, as `load_result` returns it."""

    result_id: int
    path: str
    model: str
    frame: Optional[int]
    detections: Detections
    decisions: dict[int, Decision] = field(default_factory=dict)
    reviewed: bool = False


@dataclass(frozen=True)
class ResultSummary:
    """Enough to show a list entry without loading the detections."""

    result_id: int
    scores: np.ndarray  # float32, in detection order
    rejected: frozenset  # indices of rejected detections
    failure: str
    reviewed: bool
    decided: int  # how many detections carry a decision

    def count(self, min_score: float) -> int:
        """Detections at or above `min_score` that were not rejected."""
        keep = self.scores >= np.float32(min_score)
        if self.rejected:
            keep[list(self.rejected)] = False
        return int(np.count_nonzero(keep))


def default_store_path() -> Path:
    base = os.environ.get("SIGHTLINE_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "sightline"
    )
    return Path(base) / "review.sqlite3"


# --- compact encoding of Detections -------------------------------------------------------


def encode_detections(det: Detections) -> bytes:
    """Arrays as a compressed .npz (no pickles); masks bit-packed inside their boxes."""
    arrays = {"boxes": det.boxes.astype(np.float32), "scores": det.scores.astype(np.float32),
              "labels": det.labels.astype(np.int32)}
    if det.masks is not None:
        arrays["mask_geometry"] = np.array(
            [(m.x0, m.y0, *m.bitmap.shape) for m in det.masks], np.int32).reshape(-1, 4)
        flat = [m.bitmap.ravel() for m in det.masks]
        arrays["mask_bits"] = np.packbits(np.concatenate(flat) if flat else np.zeros(0, bool))
    if det.keypoints is not None:
        arrays["keypoints"] = det.keypoints.astype(np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _decode_masks(geometry: np.ndarray, bits: np.ndarray) -> tuple[CroppedMask, ...]:
    sizes = geometry[:, 2].astype(np.int64) * geometry[:, 3]
    flat = np.unpackbits(bits, count=int(sizes.sum())).astype(bool)
    masks, start = [], 0
    for (x0, y0, h, w), size in zip(geometry.tolist(), sizes.tolist()):
        masks.append(CroppedMask(x0, y0, flat[start : start + size].reshape(h, w)))
        start += size
    return tuple(masks)


def decode_detections(payload: bytes, size: tuple[int, int], vocabulary: dict, **meta) -> Detections:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        masks = _decode_masks(data["mask_geometry"], data["mask_bits"]) if "mask_geometry" in data else None
        return Detections(
            image_size=size,
            boxes=data["boxes"],
            scores=data["scores"],
            labels=data["labels"].astype(np.int64),
            class_names=tuple(vocabulary["classes"]),
            masks=masks,
            keypoints=data["keypoints"] if "keypoints" in data else None,
            keypoint_names=tuple(vocabulary["keypoint_names"]),
            skeleton=tuple(tuple(pair) for pair in vocabulary["skeleton"]),
            **meta,
        )


def _vocabulary_json(det: Detections) -> str:
    return json.dumps({"classes": list(det.class_names), "keypoint_names": list(det.keypoint_names),
                       "skeleton": [list(p) for p in det.skeleton]}, separators=(",", ":"))


# --- the store ------------------------------------------------------------------------------


class ReviewStore:
    """The SQLite review store; see the module docstring for keys and use from any thread."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._vocabulary_cache: dict[int, dict] = {}
        self._closed = False
        self.health = check_store_file(self.path)  # a damaged file is set aside first (store_health)
        self._connection()  # create and check the schema now, so errors show at start

    # connections ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"{self.path}: the review store is closed")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash or kill -9
            conn.execute("PRAGMA foreign_keys=ON")
            self._check_schema(conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the review store: {exc}") from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer Sightline (schema {version}, "
                             f"this one reads {SCHEMA_VERSION})")
        if version < SCHEMA_VERSION:
            with _transaction(conn):
                _run_script(conn, _SCHEMA)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close every connection (all threads must have finished using the store)."""
        self._closed = True
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    # media --------------------------------------------------------------------------------

    def _media_id(self, conn, key: str, stamp: Fingerprint, create: bool) -> Optional[int]:
        """The media row for this version of the file; a changed file loses its old results."""
        row = conn.execute("SELECT id, size, mtime_ns FROM media WHERE path=?", (key,)).fetchone()
        if row is not None and (row[1], row[2]) == (stamp.size, stamp.mtime_ns):
            return row[0]
        if not create:
            return None
        if row is not None:
            conn.execute("DELETE FROM media WHERE id=?", (row[0],))
        return conn.execute("INSERT INTO media (path, size, mtime_ns) VALUES (?, ?, ?)",
                            (key, stamp.size, stamp.mtime_ns)).lastrowid

    def _vocabulary_id(self, conn, text: str) -> int:
        row = conn.execute("SELECT id FROM vocabulary WHERE json=?", (text,)).fetchone()
        if row:
            return row[0]
        return conn.execute("INSERT INTO vocabulary (json) VALUES (?)", (text,)).lastrowid

    def _vocabulary(self, conn, vocabulary_id: int) -> dict:
        if vocabulary_id not in self._vocabulary_cache:
            text = conn.execute("SELECT json FROM vocabulary WHERE id=?", (vocabulary_id,)).fetchone()[0]
            self._vocabulary_cache[vocabulary_id] = json.loads(text)
        return self._vocabulary_cache[vocabulary_id]

    # results -------------------------------------------------------------------------------

    def save_result(self, media_path, model: str, detections: Detections, frame: Optional[int] = None,
                    stamp: Optional[Fingerprint] = None) -> int:
        """Store (or replace) what `model` found in a file or frame; returns the result id.

        Replacing a result drops its decisions. `stamp` defaults to the file's fingerprint now.
        """
        stamp = stamp or fingerprint(media_path)
        if stamp is None:
            raise StoreError(f"{media_path}: cannot read the file to record its version")
        payload = encode_detections(detections)
        scores = detections.scores.astype(np.float32).tobytes()
        height, width = detections.image_size
        conn = self._connection()
        try:
            with _transaction(conn):
                media_id = self._media_id(conn, media_key(media_path), stamp, create=True)
                vocabulary_id = self._vocabulary_id(conn, _vocabulary_json(detections))
                conn.execute("DELETE FROM result WHERE media_id=? AND model=? AND frame=?",
                             (media_id, model, _frame(frame)))
                return conn.execute(
                    "INSERT INTO result (media_id, model, frame, height, width, vocabulary_id, count, scores,"
                    " payload, inference_seconds, failure, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (media_id, model, _frame(frame), height, width, vocabulary_id, len(detections), scores,
                     payload, float(detections.inference_seconds), detections.failure, time.time()),
                ).lastrowid
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot save a result: {exc}") from None

    def load_result(self, media_path, model: str, frame: Optional[int] = None) -> Optional[StoredResult]:
        """The stored result with its decisions, or None (never analysed, or the file changed)."""
        stamp = fingerprint(media_path)
        if stamp is None:
            return None
        conn = self._connection()
        media_id = self._media_id(conn, media_key(media_path), stamp, create=False)
        if media_id is None:
            return None
        row = conn.execute(
            "SELECT id, height, width, vocabulary_id, payload, inference_seconds, failure, reviewed"
            " FROM result WHERE media_id=? AND model=? AND frame=?", (media_id, model, _frame(frame))
        ).fetchone()
        if row is None:
            return None
        result_id, height, width, vocabulary_id, payload, seconds, failure, reviewed = row
        detections = decode_detections(payload, (height, width), self._vocabulary(conn, vocabulary_id),
                                       model_name=model, inference_seconds=seconds, failure=failure)
        return StoredResult(result_id, str(media_path), model, frame, detections,
                            self.decisions(result_id), bool(reviewed))

    def summaries(self, media_paths: Iterable, model: str) -> dict[str, ResultSummary]:
        """Still-image summaries for the paths that have a current result, keyed by the path
        string as given. Files that changed since are left out (and their results dropped
        the next time they are saved)."""
        wanted = {media_key(p): str(p) for p in media_paths}
        found: dict[str, ResultSummary] = {}
        conn = self._connection()
        keys = list(wanted)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT m.path, m.size, m.mtime_ns, r.id, r.scores, r.failure, r.reviewed,"
                " (SELECT COUNT(*) FROM decision d WHERE d.result_id = r.id),"
                " (SELECT group_concat(d.detection) FROM decision d WHERE d.result_id = r.id AND d.state=?)"
                f" FROM media m JOIN result r ON r.media_id = m.id WHERE m.path IN ({marks})"
                " AND r.model=? AND r.frame=?", (REJECTED, *chunk, model, STILL)).fetchall()
            for key, size, mtime_ns, rid, scores, failure, reviewed, decided, rejected in rows:
                given = wanted[key]
                if fingerprint(given) != Fingerprint(size, mtime_ns):
                    continue
                indices = frozenset(int(i) for i in rejected.split(",")) if rejected else frozenset()
                found[given] = ResultSummary(rid, np.frombuffer(scores, np.float32).copy(), indices, failure,
                                             bool(reviewed), decided)
        return found

    def frames(self, media_path, model: str) -> list[int]:
        """Frame indices of a video that have a current result from `model`, ascending."""
        stamp = fingerprint(media_path)
        if stamp is None:
            return []
        conn = self._connection()
        media_id = self._media_id(conn, media_key(media_path), stamp, create=False)
        if media_id is None:
            return []
        rows = conn.execute("SELECT frame FROM result WHERE media_id=? AND model=? AND frame>=0 ORDER BY frame",
                            (media_id, model)).fetchall()
        return [r[0] for r in rows]

    # decisions -----------------------------------------------------------------------------

    def decisions(self, result_id: int) -> dict[int, Decision]:
        rows = self._connection().execute(
            "SELECT detection, state, label FROM decision WHERE result_id=?", (result_id,)).fetchall()
        return {index: Decision(state, label) for index, state, label in rows}

    def set_decision(self, result_id: int, detection: int, decision: Optional[Decision]) -> None:
        """Record (or with None, clear) the decision on one detection: one transaction."""
        conn = self._connection()
        try:
            with _transaction(conn):
                if decision is None:
                    conn.execute("DELETE FROM decision WHERE result_id=? AND detection=?", (result_id, detection))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO decision (result_id, detection, state, label, updated)"
                        " VALUES (?,?,?,?,?)", (result_id, detection, decision.state, decision.label, time.time()))
        except sqlite3.IntegrityError:
            raise StoreError(f"result {result_id} is not in the review store (replaced or dropped)") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot save a decision: {exc}") from None

    def set_reviewed(self, result_id: int, reviewed: bool = True) -> None:
        conn = self._connection()
        try:
            with _transaction(conn):
                conn.execute("UPDATE result SET reviewed=? WHERE id=?", (int(bool(reviewed)), result_id))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot save the reviewed mark: {exc}") from None

    # classifier labels ------------------------------------------------------------------------

    def save_classifier_labels(self, result_id: int, classifier: ClassifierKey, boxes: int,
                               predictions: list[list[Label]]) -> None:
        """Store a classifier's top-k labels of every detection of a result (index i of
        `predictions` is detection i), replacing what it stored before: one transaction.
        `boxes` is the fingerprint of the boxes they were made from (checked on reading)."""
        conn = self._connection()
        now = time.time()
        rows = [(result_id, classifier.path, int(classifier.mtime_ns), index, int(boxes),
                 json.dumps([[str(label), float(p)] for label, p in labels], separators=(",", ":")), now)
                for index, labels in enumerate(predictions)]
        try:
            with _transaction(conn):
                conn.execute("DELETE FROM classifier_label WHERE result_id=? AND classifier=? AND"
                             " classifier_mtime_ns=?", (result_id, classifier.path, int(classifier.mtime_ns)))
                conn.executemany(
                    "INSERT INTO classifier_label (result_id, classifier, classifier_mtime_ns, detection, boxes,"
                    " labels, created) VALUES (?,?,?,?,?,?,?)", rows)
        except sqlite3.IntegrityError:
            raise StoreError(f"result {result_id} is not in the review store (replaced or dropped)") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot save classifier labels: {exc}") from None

    def classifier_labels(self, result_id: int, classifier: ClassifierKey,
                          boxes: int) -> Optional[list[list[Label]]]:
        """The stored labels of every detection of a result by this classifier, or None when
        there are none for all of its detections made from these boxes."""
        conn = self._connection()
        count = conn.execute("SELECT count FROM result WHERE id=?", (result_id,)).fetchone()
        if count is None:
            return None
        rows = conn.execute(
            "SELECT detection, boxes, labels FROM classifier_label WHERE result_id=? AND classifier=? AND"
            " classifier_mtime_ns=? ORDER BY detection",
            (result_id, classifier.path, int(classifier.mtime_ns))).fetchall()
        if [r[0] for r in rows] != list(range(count[0])) or any(r[1] != int(boxes) for r in rows):
            return None
        return [[(str(label), float(p)) for label, p in json.loads(r[2])] for r in rows]

    def forget(self, media_path) -> None:
        """Drop everything stored for a file (all models, all frames)."""
        conn = self._connection()
        with _transaction(conn):
            conn.execute("DELETE FROM media WHERE path=?", (media_key(media_path),))


def _frame(frame: Optional[int]) -> int:
    return STILL if frame is None else int(frame)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (autocommit connections)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
