"""Results kept per image beside an output file, so an interrupted run resumes where it stopped.

`results.json.parts/` (beside `--out results.json`) holds `run.json`, what the results were
made with (model, size, score), and shard files `part-<run>-<n>.jsonl`: one JSON line per
finished image with its path as listed and its detections, encoded as in the review store
(compressed npz in base64, no pickles). A shard is written whole to a temporary file and
renamed, every `flush_every` images or `flush_seconds`, and when the run stops for any
reason, so a `kill -9` loses at most that much finished work. Failed images are not kept:
a rerun tries them again. A video frame is kept under `VIDEO#frame=N`, and a finished video
segment as a marker line (`{"path": key, "marker": true}`) with no detections.

Client memory stays small for any number of images: finished images are remembered as
8-byte hashes of their paths, and merging reads one line at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from engine.export import write_text_atomic
from engine.review.codec import decode_detections, encode_detections
from engine.types import Detections

FORMAT = "sightline-result-shards/1"
SETTINGS = ("model", "size", "score")  # what must match for kept results to be reused


class ShardsError(Exception):
    """The shard folder cannot be used; str() names it and says what to do."""


def path_hash(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(os.fsencode(path), digest_size=8).digest(), "little", signed=True)


def hashes(paths: Iterable) -> np.ndarray:
    return np.fromiter((path_hash(str(p)) for p in paths), np.int64)


def shards_beside(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def _vocabulary(det: Detections) -> dict:
    return {"classes": list(det.class_names), "keypoint_names": list(det.keypoint_names),
            "skeleton": [list(p) for p in det.skeleton]}


class ResultShards:
    """The shard folder of one run's settings: open it, skip what is done, add, merge."""

    def __init__(self, folder: Path, settings: dict, flush_every: int = 32, flush_seconds: float = 5.0):
        self.folder, self.settings = Path(folder), {k: settings[k] for k in SETTINGS}
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.run_info: dict = {}
        self._buffer: list[str] = []
        self._last_flush = time.monotonic()
        self._run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self._part = 0

    @property
    def run_file(self) -> Path:
        return self.folder / "run.json"

    def open(self) -> None:
        """Create the folder, or check that what it holds was made with the same settings."""
        if self.run_file.exists():
            try:
                self.run_info = json.loads(self.run_file.read_text())
            except (OSError, ValueError) as exc:
                raise ShardsError(f"{self.run_file}: cannot read it ({exc}); delete {self.folder} to start over") from None
            kept = self.run_info.get("settings")
            if self.run_info.get("format") != FORMAT or kept != self.settings:
                raise ShardsError(
                    f"{self.folder} holds results made with other settings ({kept}, now {self.settings}): "
                    f"delete it to start over, or choose another output file")
            return
        self.run_info = {"format": FORMAT, "settings": self.settings}
        self._write_run_info()

    def _write_run_info(self) -> None:
        write_text_atomic(self.run_file, json.dumps(self.run_info, indent=1))

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.jsonl")) if self.folder.is_dir() else []

    def _lines(self) -> Iterator[tuple[int, int, dict]]:
        """(shard number, byte offset, record) of every kept line."""
        for number, shard in enumerate(self._shards()):
            with open(shard, "rb") as handle:
                offset = 0
                for line in handle:
                    yield number, offset, json.loads(line)
                    offset += len(line)

    def done_hashes(self) -> np.ndarray:
        """Sorted hashes of the paths of every kept result."""
        return np.unique(np.fromiter((path_hash(rec["path"]) for _, _, rec in self._lines()), np.int64))

    def pending(self, paths: Sequence) -> list:
        """The paths (in their order) that have no kept result."""
        if not len(paths):
            return []
        done = np.isin(hashes(paths), self.done_hashes())
        return [p for p, d in zip(paths, done) if not d]

    # writing ------------------------------------------------------------------------------

    def add(self, path: str, detections: Detections) -> None:
        """Keep one image's (already filtered) detections; written with the next flush."""
        if "vocabulary" not in self.run_info:
            self.run_info.update(vocabulary=_vocabulary(detections), model_name=detections.model_name)
            self._write_run_info()
        height, width = detections.image_size
        payload = base64.b64encode(encode_detections(detections)).decode("ascii")
        self._keep({"path": str(path), "height": height, "width": width,
                    "seconds": detections.inference_seconds, "detections": payload})

    def mark(self, key: str) -> None:
        """Keep a marker that `pending` counts as done (a finished video segment), written with
        the next flush: after every result added before it, so a kept marker means they are kept."""
        self._keep({"path": key, "marker": True})

    def _keep(self, record: dict) -> None:
        self._buffer.append(json.dumps(record))
        if len(self._buffer) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write what was added since the last flush as one shard (temp file, then rename)."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        self._part += 1
        write_text_atomic(self.folder / f"part-{self._run_id}-{self._part:06d}.jsonl", "\n".join(self._buffer) + "\n")
        self._buffer.clear()

    # reading ------------------------------------------------------------------------------

    def _decode(self, record: dict) -> Detections:
        vocabulary = self.run_info["vocabulary"]
        return decode_detections(base64.b64decode(record["detections"]), (record["height"], record["width"]),
                                 vocabulary, model_name=self.run_info.get("model_name", ""),
                                 inference_seconds=record["seconds"])

    def merged(self, order: Sequence) -> Iterator[tuple[str, Detections]]:
        """(path, detections) of every kept result whose path is in `order`, in that order,
        each path once (a retried task may have kept one twice), read one line at a time."""
        shards = self._shards()
        flat = (value for number, offset, rec in self._lines() for value in (path_hash(rec["path"]), number, offset))
        table = np.fromiter(flat, np.int64).reshape(-1, 3)  # 24 bytes a result, no Python object each
        if not len(table) or not len(order):
            return
        table = table[np.unique(table[:, 0], return_index=True)[1]]  # sorted by hash, one per path
        wanted = hashes(order)
        rows = np.minimum(np.searchsorted(table[:, 0], wanted), len(table) - 1)
        found = table[rows, 0] == wanted
        handles: dict[int, object] = {}
        try:
            for path, row, ok in zip(order, rows.tolist(), found.tolist()):
                if ok:
                    yield str(path), self._read(table[row], shards, handles)
        finally:
            for handle in handles.values():
                handle.close()

    def _read(self, entry: np.ndarray, shards: list[Path], handles: dict) -> Detections:
        number, offset = int(entry[1]), int(entry[2])
        handle = handles.get(number)
        if handle is None:
            if len(handles) >= 64:  # keep a few shards open, never one per shard
                handles.pop(next(iter(handles))).close()
            handle = handles[number] = open(shards[number], "rb")
        handle.seek(offset)
        return self._decode(json.loads(handle.readline()))
