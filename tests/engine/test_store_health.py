"""A damaged review store is never silently emptied: it is copied aside (dated) before any
fresh start or further use, the user is told, and results that cannot be read come back as
damaged, not as never analysed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.store import ACCEPTED, Decision, ReviewStore
from engine.types import CroppedMask, Detections

MODEL = "demo-shapes"


def _detections(rng, count=5) -> Detections:
    boxes = rng.uniform(0, 200, (count, 4)).astype(np.float32)
    boxes[:, 2:] = boxes[:, :2] + 30
    masks = tuple(CroppedMask(int(b[0]), int(b[1]), rng.random((30, 30)) > 0.5) for b in boxes)
    return Detections(image_size=(240, 320), boxes=boxes, scores=rng.random(count).astype(np.float32),
                      labels=np.ones(count, np.int64), class_names=("__background__", "circle"), masks=masks)


@pytest.fixture
def filled(tmp_path):
    """A closed store holding 300 results (one decision on the first), and their image files."""
    rng = np.random.default_rng(0)
    images = []
    store = ReviewStore(tmp_path / "review.sqlite3")
    for i in range(300):
        image = tmp_path / "images" / f"i{i:03d}.png"
        image.parent.mkdir(exist_ok=True)
        image.write_bytes(b"x" * (i + 1))
        store.save_result(image, MODEL, _detections(rng))
        images.append(image)
    store.set_decision(1, 0, Decision(ACCEPTED))
    store.close()
    return store.path, images


def _kept(path):
    return sorted(path.parent.glob(f"{path.name}.damaged-*"))


def test_a_store_truncated_to_nothing_is_kept_aside_and_the_user_told(filled):
    path, images = filled
    path.write_bytes(b"")
    store = ReviewStore(path)
    assert "was empty (0 bytes)" in store.health.message() and str(path) in store.health.message()
    kept = [p for p in _kept(path) if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and str(kept[0]) in store.health.message() and store.health.fresh
    assert store.load_result(images[0], MODEL) is None  # a new store, and it works
    store.save_result(images[0], MODEL, _detections(np.random.default_rng(1)))
    store.close()


def test_a_store_whose_start_is_overwritten_is_moved_aside_whole(filled):
    path, _ = filled
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00garbage" * 12 + b"gar\x00"
    path.write_bytes(bytes(data))
    store = ReviewStore(path)
    store.close()
    kept = [p for p in _kept(path) if not p.name.endswith(("-wal", "-shm"))]
    assert "not an SQLite database" in store.health.message()
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data)  # every byte of it kept


def test_garbage_in_the_middle_is_copied_aside_and_unreadable_results_are_damaged(filled):
    path, images = filled
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(7)
    for fraction in (0.3, 0.5, 0.7):
        start = int(len(data) * fraction)
        data[start : start + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    store = ReviewStore(path)
    try:
        assert "is damaged" in store.health.message() and not store.health.fresh
        kept = [p for p in _kept(path) if not p.name.endswith(("-wal", "-shm"))]
        assert len(kept) == 1 and kept[0].read_bytes() == bytes(data)
        loaded = [store.load_result(image, MODEL) for image in images]  # nothing raises
        damaged = [r for r in loaded if r is not None and r.damaged]
        assert damaged and all("cannot be read" in r.damaged and len(r.detections) == 0 for r in damaged)
        assert sum(r is not None and not r.damaged for r in loaded) > 200
        found = store.summaries(images, MODEL)  # nothing raises; unreadable ones say so
        unreadable = [s for s in found.values() if s.damaged]
        assert all(s.failure == s.damaged for s in unreadable)
        assert len(found) >= len(images) - len(damaged)
    finally:
        store.close()


def test_a_healthy_store_is_left_alone(filled):
    path, images = filled
    store = ReviewStore(path)
    assert store.health.problem == "" and store.health.message() == "" and not _kept(path)
    assert store.load_result(images[0], MODEL).decisions == {0: Decision(ACCEPTED)}
    store.close()


def test_a_store_from_a_newer_sightline_is_refused_naming_the_file(tmp_path):
    import sqlite3

    from engine.store import SCHEMA_VERSION, StoreError

    path = tmp_path / "review.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        ReviewStore(path)
    assert str(caught.value).startswith(f"{path}: ") and "newer Sightline" in str(caught.value)
