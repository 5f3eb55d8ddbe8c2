"""The review without a window: records, undoable decisions, the view filter, the export
selection, the vocabulary and per-frame video results."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from tests.review.conftest import CLASSES, make_detections
from engine.review import (ACCEPTED, INCLUDE_ACCEPTED, INCLUDE_ALL, PENDING, REJECTED, RELABELLED, Decision,
                           ExportSelection, ReviewRecord, ReviewSession, VideoResults, ViewFilter, Vocabulary,
                           decide)
from engine.store import ReviewStore, StoreError


def stored_record(store, image, n=4) -> ReviewRecord:
    store.save_result(image, "demo-shapes", make_detections(n))
    return store.load_result(image, "demo-shapes")


def test_decisions_undo_and_redo_reach_the_record_and_the_store(store, image, tmp_path):
    session = ReviewSession(store)
    record = session.remember(stored_record(store, image))
    assert session.decide(record, 0, ACCEPTED)
    assert session.decide(record, 1, RELABELLED, 3)
    assert session.decide(record, 2, REJECTED)
    assert session.history.undo_text == "Rejected #3 in a.png"
    session.history.undo()
    assert record.state(2) == PENDING and record.name(1) == "triangle"
    session.history.redo()
    assert session.mark_reviewed(record)
    assert store.flush(5)
    again = ReviewStore(store.path)  # another process would see the same
    try:
        back = again.load_result(image, "demo-shapes")
        assert back.decisions == {0: Decision(ACCEPTED), 1: Decision(RELABELLED, 3), 2: Decision(REJECTED)}
        assert back.reviewed and back.names()[:3] == ["circle", "triangle", "triangle"]
    finally:
        again.close()


def test_a_relabel_to_the_models_own_class_is_an_accept_and_no_change_is_no_command(store, image):
    record = stored_record(store, image)
    change = decide(record, 0, RELABELLED, int(record.detections.labels[0]))
    assert change.new == Decision(ACCEPTED)
    record.set_decision(0, Decision(ACCEPTED))
    assert decide(record, 0, ACCEPTED) is None
    assert decide(ReviewRecord("x", "m", None, record.detections), 0, ACCEPTED) is None  # not stored


def test_the_view_filter_uses_current_names_and_hides_rejected(store, image):
    record = stored_record(store, image)
    record.set_decision(0, Decision(RELABELLED, 2))  # circle -> square
    record.set_decision(2, Decision(REJECTED))
    view = ViewFilter(min_score=0.5, hidden_classes=frozenset({"square"}))
    assert record.detections.scores.tolist()[2] >= 0.5
    assert view.visible(record).tolist() == []  # 0 and 1 are squares now, 2 rejected, 3 below 0.5
    assert view.with_(hidden_classes=frozenset(), show_rejected=True).visible(record).tolist() == [0, 1, 2]
    assert record.class_counts(0.0) == {"square": 2, "circle": 1}


def test_the_export_selection_takes_what_was_asked(store, image):
    record = stored_record(store, image)
    record.set_decision(0, Decision(ACCEPTED))
    record.set_decision(1, Decision(RELABELLED, 1))
    record.set_decision(2, Decision(REJECTED))
    assert ExportSelection().indices(record) == [0, 1, 3]
    assert ExportSelection(include=INCLUDE_ACCEPTED).indices(record) == [0, 1]
    assert ExportSelection(include=INCLUDE_ALL, min_score=0.5).indices(record) == [0, 1, 2]
    assert not ExportSelection(only_reviewed=True).takes(record)
    with pytest.raises(ValueError, match="unknown export selection"):
        ExportSelection(include="everything")


def test_the_vocabulary_lists_real_categories_and_round_trips():
    vocabulary = Vocabulary(("__background__", "person", "N/A", "Dog"), ("nose",), ((0, 0),))
    assert vocabulary.categories() == [(1, "person"), (3, "Dog")]
    assert vocabulary.index_of("dog") == 3 and vocabulary.index_of("N/A") is None
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary
    assert len(vocabulary.empty((4, 5))) == 0 and vocabulary.empty((4, 5)).class_names == vocabulary.classes


def test_video_results_hold_each_analysed_frame(store, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x" * 10)
    for frame in (0, 10, 20):
        store.save_result(video, "demo-shapes", make_detections(2), frame=frame)
    results = VideoResults.from_store(store, str(video), "demo-shapes")
    assert results.frames == [0, 10, 20]
    assert results.nearest_at_or_before(15) == 10 and results.nearest_at_or_before(-1) is None
    assert results.record(store, 10).frame == 10 and results.record(store, 11) is None


def test_a_decision_never_waits_for_a_locked_database(store, image):
    """The caller (the window's thread) only queues; the writer waits for the lock."""
    record = stored_record(store, image)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    began = time.perf_counter()
    pending = store.set_decision(record.result_id, 0, Decision(ACCEPTED))
    assert time.perf_counter() - began < 0.2
    assert not pending.done
    blocker.execute("COMMIT")
    blocker.close()
    pending.wait(10)
    assert store.load_result(image, "demo-shapes").decisions == {0: Decision(ACCEPTED)}


def test_one_failed_write_does_not_undo_the_others(store, image):
    record = stored_record(store, image)
    bad = store.set_decision(record.result_id + 99, 0, Decision(ACCEPTED))
    good = store.set_decision(record.result_id, 1, Decision(REJECTED))
    with pytest.raises(StoreError, match="not in the review store"):
        bad.wait(5)
    good.wait(5)
    assert store.load_result(image, "demo-shapes").decisions == {1: Decision(REJECTED)}


def test_session_reports_a_write_the_store_refused(store, image):
    session = ReviewSession(store)
    record = session.remember(stored_record(store, image))
    errors = []
    session.on_error(lambda command, exc: errors.append((command.text, str(exc))))
    store.save_result(image, "demo-shapes", make_detections(2))  # re-analysed: the old result is gone
    session.decide(record, 0, ACCEPTED)
    store.flush(5)
    assert errors and errors[0][0] == "Accepted #1 in a.png" and "not in the review store" in errors[0][1]


def test_a_damaged_result_is_shown_as_damaged_not_as_never_analysed(store, image):
    record = stored_record(store, image)
    raw = sqlite3.connect(store.path)
    raw.execute("UPDATE result SET payload=? WHERE id=?", (b"garbage", record.result_id))
    raw.commit()
    raw.close()
    back = store.load_result(image, "demo-shapes")
    assert back is not None and "cannot be read" in back.damaged and len(back.detections) == 0
    assert not ExportSelection().takes(back)


def test_the_summary_matches_the_record(store, image):
    record = stored_record(store, image)
    record.set_decision(1, Decision(REJECTED))
    summary = record.summary()
    assert summary.count(0.0) == 3 and summary.decided == 1
    assert np.array_equal(summary.scores, record.detections.scores)
    assert CLASSES[1] == "circle"


def test_a_relabel_can_name_a_class_the_model_lacks_and_export_and_training_see_it(store, image, tmp_path):
    import json

    from engine.review.exporting import COCO, INCLUDE_ACCEPTED, ExportRequest, export_results
    from engine.train.review_source import read_reviewed

    other = image.with_name("b.png")
    other.write_bytes(b"another")
    session = ReviewSession(store)
    first = session.remember(stored_record(store, image))
    second = session.remember(stored_record(store, other))
    cross = session.add_class(first, "cross")
    assert cross == len(CLASSES) and session.add_class(first, "Cross") == cross  # one name, one index
    assert session.decide(first, 0, RELABELLED, cross) and session.decide(first, 1, ACCEPTED)
    star = session.add_class(second, "star")
    assert star == cross + 1 and session.add_class(second, "cross") == cross  # the model's new classes, in order
    assert session.decide(second, 2, RELABELLED, star)
    for record in (first, second):
        session.mark_reviewed(record)
    assert session.add_class(first, "circle") == 1  # a class the model has is its own
    assert store.flush(5)

    back = store.load_result(image, "demo-shapes")  # kept across a restart
    accepted = back.names()[1]  # the model's own class, accepted
    assert back.names()[0] == "cross" and back.decisions[0] == Decision(RELABELLED, cross)
    out = tmp_path / "accepted.json"
    export_results(ExportRequest(COCO, out, [str(image), str(other)], "demo-shapes", include=INCLUDE_ACCEPTED),
                   store)
    coco = json.loads(out.read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert names[cross] == "cross" and names[star] == "star"
    assert sorted(names[a["category_id"]] for a in coco["annotations"]) == sorted(["cross", accepted, "star"])
    data = read_reviewed(image.parent, store, "demo-shapes")
    assert {"cross", "star"} <= set(data.class_names)
