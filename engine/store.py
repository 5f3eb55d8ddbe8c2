"""The review store: every detection result and every review decision, in one SQLite file.

Every write goes through one writer thread (`engine.store_writer`), never the caller's: a
decision is queued and committed within milliseconds, in WAL mode, so a crash or `kill -9`
loses no decision older than that, and no front end ever waits for SQLite to write. Reopening the same files
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
    rid = store.save_result(video_path, detector.name, detections, frame=i, stamp=stamp)  # waits
    record = store.load_result(video_path, detector.name, frame=i)   # a ReviewRecord, or None
    store.frames(video_path, detector.name)      # frame indices that have results
    store.set_decision(rid, detection_index, Decision(ACCEPTED))      # queued: a PendingWrite
    store.save_classifier_labels(rid, ClassifierKey(path, mtime_ns), boxes_crc, predictions)
    store.classifier_labels(rid, ClassifierKey(path, mtime_ns), boxes_crc)   # or None
    store.flush()                                # everything queued so far is durable

Reads use one connection per thread; writes go to the writer thread. The database is never
opened by a front end directly: this module is the only SQL in Sightline.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from engine.review.codec import decode_detections, encode_detections
from engine.review.record import (ACCEPTED, DECISION_STATES, PENDING, REJECTED, RELABELLED, Decision,
                                  RecordSummary, ReviewRecord)
from engine.review.vocabulary import Vocabulary
from engine.store_health import DECODE_ERRORS, check_store_file, damage_reason
from engine.store_writer import PendingWrite, StoreWriter
from engine.types import Detections

__all__ = ["ACCEPTED", "DECISION_STATES", "PENDING", "REJECTED", "RELABELLED", "ClassifierKey", "Decision",
           "Fingerprint", "PendingWrite", "RecordSummary", "ReviewRecord", "ReviewStore", "StoreError",
           "default_store_path", "fingerprint", "media_key"]
log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
STILL = -1  # the frame value of a still image

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
class ClassifierKey:
    """Which classifier made some labels: its file and that file's mtime_ns."""

    path: str
    mtime_ns: int


Label = tuple[str, float]  # (label, probability), as engine.classify gives them


@dataclass(frozen=True)
class StoredEntry:
    """One result the store holds: which file, model and frame (None: a still image)."""

    path: str
    model: str
    frame: Optional[int]


def default_store_path() -> Path:
    from engine.paths import data_dir

    return data_dir() / "review.sqlite3"


# --- the store ------------------------------------------------------------------------------


class ReviewStore:
    """The SQLite review store; see the module docstring for keys and use from any thread."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._vocabulary_cache: dict[int, Vocabulary] = {}
        self._closed = False
        self.health = check_store_file(self.path)  # a damaged file is set aside first (store_health)
        self._writer = StoreWriter(self._open_writer, self._translate)

    # connections ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash or kill -9
            conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the review store: {exc}") from None
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._open()
        try:
            self._check_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self.path}: cannot open the review store: {exc}") from None
        except StoreError:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        """This thread's reading connection. A read sees every write queued before it: it
        waits for the writer first when anything is still queued."""
        if not self._writer.idle and threading.current_thread() is not self._writer.thread:
            self._writer.flush()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"{self.path}: the review store is closed")
        conn = self._open()
        conn.execute("PRAGMA query_only=ON")  # only the writer writes
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
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, sqlite3.IntegrityError):
            return StoreError("that result is not in the review store any more (replaced or dropped)")
        return StoreError(f"{self.path}: cannot write to the review store: {exc}")

    def _write(self, fn) -> PendingWrite:
        if self._closed:
            raise StoreError(f"{self.path}: the review store is closed")
        return self._writer.submit(fn)

    @property
    def idle(self) -> bool:
        """Every write queued so far is committed (durable); never waits."""
        return self._writer.idle

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every write queued so far is committed (durable); False on timeout."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Commit what is queued, then close every connection."""
        if self._closed:
            return
        self._writer.close()
        self._closed = True
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    # media and vocabularies ------------------------------------------------------------------

    @staticmethod
    def _media_id(conn, key: str, stamp: Fingerprint, create: bool) -> Optional[int]:
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

    @staticmethod
    def _vocabulary_id(conn, text: str) -> int:
        row = conn.execute("SELECT id FROM vocabulary WHERE json=?", (text,)).fetchone()
        if row:
            return row[0]
        return conn.execute("INSERT INTO vocabulary (json) VALUES (?)", (text,)).lastrowid

    def _vocabulary(self, conn, vocabulary_id: int) -> Vocabulary:
        if vocabulary_id not in self._vocabulary_cache:
            text = conn.execute("SELECT json FROM vocabulary WHERE id=?", (vocabulary_id,)).fetchone()[0]
            self._vocabulary_cache[vocabulary_id] = Vocabulary.from_json(text)
        return self._vocabulary_cache[vocabulary_id]

    # results -------------------------------------------------------------------------------

    def save_result(self, media_path, model: str, detections: Detections, frame: Optional[int] = None,
                    stamp: Optional[Fingerprint] = None) -> int:
        """Store (or replace) what `model` found in a file or frame and wait until it is
        durable; returns the result id. Replacing a result drops its decisions. `stamp`
        defaults to the file's fingerprint now. Called from worker threads, never the GUI's."""
        stamp = stamp or fingerprint(media_path)
        if stamp is None:
            raise StoreError(f"{media_path}: cannot read the file to record its version")
        payload = encode_detections(detections)
        scores = detections.scores.astype(np.float32).tobytes()
        height, width = detections.image_size
        vocabulary = Vocabulary.of(detections).to_json()
        key = media_key(media_path)

        def write(conn) -> int:
            media_id = self._media_id(conn, key, stamp, create=True)
            vocabulary_id = self._vocabulary_id(conn, vocabulary)
            conn.execute("DELETE FROM result WHERE media_id=? AND model=? AND frame=?",
                         (media_id, model, _frame(frame)))
            return conn.execute(
                "INSERT INTO result (media_id, model, frame, height, width, vocabulary_id, count, scores,"
                " payload, inference_seconds, failure, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (media_id, model, _frame(frame), height, width, vocabulary_id, len(detections), scores,
                 payload, float(detections.inference_seconds), detections.failure, time.time()),
            ).lastrowid

        return self._write(write).wait()

    def model_vocabulary(self, model: str) -> Optional[Vocabulary]:
        """The longest class vocabulary the results of `model` carry: a relabel to a class the
        model lacks extends it at the end, so this holds every class the review gave it."""
        conn = self._connection()
        ids = conn.execute("SELECT DISTINCT vocabulary_id FROM result WHERE model=?", (model,)).fetchall()
        vocabularies = [self._vocabulary(conn, vocabulary_id) for (vocabulary_id,) in ids]
        return max(vocabularies, key=lambda v: len(v.classes), default=None)

    def set_vocabulary(self, result_id: int, vocabulary: Vocabulary) -> PendingWrite:
        """The result's classes become `vocabulary`'s (a longer list: the old indices keep
        their names)."""
        text = vocabulary.to_json()

        def write(conn) -> None:
            conn.execute("UPDATE result SET vocabulary_id=? WHERE id=?", (self._vocabulary_id(conn, text), result_id))

        return self._write(write)

    def load_result(self, media_path, model: str, frame: Optional[int] = None) -> Optional[ReviewRecord]:
        """The stored record with its decisions, or None (never analysed, or the file changed).
        A result that cannot be read back (a payload that does not decode, or a damaged
        database page) comes back empty with `damaged` saying why; other errors are raised."""
        try:
            return self._load_result(media_path, model, frame)
        except Exception as exc:  # noqa: BLE001 - only damage becomes a record; the rest is raised
            reason = damage_reason(exc)
            if not reason:
                raise
            empty = Detections.empty((1, 1), ("__background__",), model_name=model, failure=reason)
            return ReviewRecord(str(media_path), model, None, empty, {}, False, frame, reason)

    def _load_result(self, media_path, model: str, frame: Optional[int]) -> Optional[ReviewRecord]:
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
        vocabulary = self._vocabulary(conn, vocabulary_id)
        damaged = ""
        try:
            detections = decode_detections(payload, (height, width), vocabulary, model_name=model,
                                           inference_seconds=seconds, failure=failure)
        except DECODE_ERRORS as exc:  # the row is there: its size, vocabulary and decisions still are
            damaged = damage_reason(exc)
            detections = vocabulary.empty((height, width))
        return ReviewRecord(str(media_path), model, result_id, detections, self.decisions(result_id),
                            bool(reviewed), frame, damaged)

    def summaries(self, media_paths: Iterable, model: str) -> dict[str, RecordSummary]:
        """Still-image summaries for the paths that have a current result, keyed by the path
        string as given. Files that changed since are left out (and their results dropped
        the next time they are saved). Where the database is damaged, the paths are read one
        by one and a path that cannot be read gets a summary with `damaged` (and `failure`)
        saying why."""
        paths = [str(p) for p in media_paths]
        try:
            return self._summaries(paths, model)
        except Exception as exc:  # noqa: BLE001 - only damage is answered path by path
            if not damage_reason(exc):
                raise
        found: dict[str, RecordSummary] = {}
        for path in paths:
            try:
                found.update(self._summaries([path], model))
            except Exception as exc:  # noqa: BLE001
                reason = damage_reason(exc)
                if not reason:
                    raise
                found[path] = RecordSummary(None, np.zeros(0, np.float32), failure=reason, damaged=reason)
        return found

    def _summaries(self, media_paths: list[str], model: str) -> dict[str, RecordSummary]:
        wanted = {media_key(p): str(p) for p in media_paths}
        found: dict[str, RecordSummary] = {}
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
                found[given] = RecordSummary(rid, np.frombuffer(scores, np.float32).copy(), indices, failure,
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

    def entries(self, under: Optional[str | os.PathLike] = None, model: Optional[str] = None) -> list[StoredEntry]:
        """Every result the store holds (for files under the folder `under`, from `model`),
        ordered by path, model and frame; a file changed since it was analysed is left out."""
        conn = self._connection()
        rows = conn.execute("SELECT m.path, m.size, m.mtime_ns, r.model, r.frame FROM media m"
                            " JOIN result r ON r.media_id = m.id ORDER BY m.path, r.model, r.frame").fetchall()
        prefix = os.path.join(media_key(under), "") if under is not None else None
        found = []
        for path, size, mtime_ns, result_model, frame in rows:
            if prefix is not None and not path.startswith(prefix):
                continue
            if model is not None and result_model != model:
                continue
            if fingerprint(path) != Fingerprint(size, mtime_ns):
                continue
            found.append(StoredEntry(path, result_model, None if frame == STILL else frame))
        return found

    # decisions -----------------------------------------------------------------------------

    def decisions(self, result_id: int) -> dict[int, Decision]:
        rows = self._connection().execute(
            "SELECT detection, state, label FROM decision WHERE result_id=?", (result_id,)).fetchall()
        return {index: Decision(state, label) for index, state, label in rows}

    def set_decision(self, result_id: int, detection: int, decision: Optional[Decision]) -> PendingWrite:
        """Queue the decision on one detection (None clears it); returns at once. It is durable
        when the returned `PendingWrite` is done without an error."""
        def write(conn) -> None:
            if conn.execute("SELECT 1 FROM result WHERE id=?", (result_id,)).fetchone() is None:
                raise StoreError(f"result {result_id} is not in the review store (replaced or dropped)")
            if decision is None:
                conn.execute("DELETE FROM decision WHERE result_id=? AND detection=?", (result_id, detection))
            else:
                conn.execute("INSERT OR REPLACE INTO decision (result_id, detection, state, label, updated)"
                             " VALUES (?,?,?,?,?)", (result_id, detection, decision.state, decision.label,
                                                     time.time()))
        return self._write(write)

    def set_reviewed(self, result_id: int, reviewed: bool = True) -> PendingWrite:
        """Queue the reviewed mark of a result; returns at once (see `set_decision`)."""
        return self._write(lambda conn: conn.execute("UPDATE result SET reviewed=? WHERE id=?",
                                                     (int(bool(reviewed)), result_id)) and None)

    # classifier labels ------------------------------------------------------------------------

    def save_classifier_labels(self, result_id: int, classifier: ClassifierKey, boxes: int,
                               predictions: list[list[Label]]) -> PendingWrite:
        """Queue a classifier's top-k labels of every detection of a result (index i of
        `predictions` is detection i), replacing what it stored before. `boxes` is the
        fingerprint of the boxes they were made from (checked on reading)."""
        now = time.time()
        rows = [(result_id, classifier.path, int(classifier.mtime_ns), index, int(boxes),
                 json.dumps([[str(label), float(p)] for label, p in labels], separators=(",", ":")), now)
                for index, labels in enumerate(predictions)]

        def write(conn) -> None:
            conn.execute("DELETE FROM classifier_label WHERE result_id=? AND classifier=? AND"
                         " classifier_mtime_ns=?", (result_id, classifier.path, int(classifier.mtime_ns)))
            conn.executemany(
                "INSERT INTO classifier_label (result_id, classifier, classifier_mtime_ns, detection, boxes,"
                " labels, created) VALUES (?,?,?,?,?,?,?)", rows)
        return self._write(write)

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

    def classifiers_of(self, result_id: int) -> list[ClassifierKey]:
        """The classifiers that stored labels for a result, newest first."""
        rows = self._connection().execute(
            "SELECT classifier, classifier_mtime_ns, MAX(created) FROM classifier_label WHERE result_id=?"
            " GROUP BY classifier, classifier_mtime_ns ORDER BY MAX(created) DESC", (result_id,)).fetchall()
        return [ClassifierKey(path, mtime_ns) for path, mtime_ns, _ in rows]

    def forget(self, media_path) -> None:
        """Drop everything stored for a file (all models, all frames) and wait for it."""
        key = media_key(media_path)
        self._write(lambda conn: conn.execute("DELETE FROM media WHERE path=?", (key,)) and None).wait()


def _frame(frame: Optional[int]) -> int:
    return STILL if frame is None else int(frame)
