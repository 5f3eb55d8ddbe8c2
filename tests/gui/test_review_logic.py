"""The window's review logic, on a fast fake model: generations, keys, undo, store, reopen."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt

from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision
from gui.review.image_list import DONE, FAILED, NEW
from tests.gui.helpers import drop_paths, key, wait_all_analysed, wait_for_review


def test_opening_analyses_the_current_image_only(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes)
    review = wait_for_review(qtbot, window, scenes[0])
    assert len(review.detections) == 4
    assert window.jobs.jobs_run == 1
    states = [e.state for e in window.images.entries()]
    assert states[0] == DONE and states[1:] == [NEW] * 3
    assert window.canvas.has_image and window.canvas.image_size() == review.detections.image_size


def test_stale_results_never_reach_another_image(qtbot, make_window, scenes, fake_model):
    fake_model.delay = 0.3
    window = make_window(scenes)
    qtbot.waitUntil(lambda: len(window.images) == 4)
    c = window.controller
    seen_wrong = []

    def check():
        if window.canvas.review is not None and window.canvas.review.path != c.current_path:
            seen_wrong.append((window.canvas.review.path, c.current_path))

    c.view_changed.connect(check)
    for _ in range(3):
        for step in (1, 1, 1, -1, -1, 1):
            c.step(step)
            qtbot.wait(60)
    final = c.current_path
    wait_for_review(qtbot, window, final)
    qtbot.wait(800)  # let any straggling result arrive
    assert not seen_wrong
    assert window.canvas.review.path == final == c.current_path


def test_keys_decide_undo_redo_and_store(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    review = wait_for_review(qtbot, window)
    c = window.controller
    window.filter_panel.set_min_score(0.5)
    visible = c.visible().tolist()
    assert visible == [0, 1, 2]
    key(qtbot, window, Qt.Key.Key_J)
    assert c.selected == 0
    key(qtbot, window, Qt.Key.Key_A)  # accept, then on to the next pending detection
    assert c.selected == 1
    key(qtbot, window, Qt.Key.Key_R)
    stored = window.store.load_result(scenes[0], "demo-shapes")
    assert stored.decisions == {0: Decision(ACCEPTED), 1: Decision(REJECTED)}
    assert c.visible().tolist() == [0, 2]  # rejected ones hidden until asked for
    key(qtbot, window, Qt.Key.Key_X)
    assert c.visible().tolist() == [0, 1, 2]
    assert window.canvas.item(1).state == REJECTED
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.store.load_result(scenes[0], "demo-shapes").decisions == {0: Decision(ACCEPTED)}
    assert review.state(1) == "pending"
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.store.load_result(scenes[0], "demo-shapes").decisions[1] == Decision(REJECTED)
    assert fake_model.calls == 1  # filtering and reviewing never re-ran the model


def relabel_popup_on_first(qtbot, make_window, scenes):
    """A window on one scene with the relabel popup open (L) on its first detection."""
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    window.controller.select(0)
    key(qtbot, window, Qt.Key.Key_L)
    popup = window.relabel_popup
    assert popup is not None and popup.isVisible()
    return window, window.controller, popup


def test_relabel_popup_and_context_menu_choice(qtbot, make_window, scenes, fake_model):
    window, c, popup = relabel_popup_on_first(qtbot, make_window, scenes)
    qtbot.keyClicks(popup.search, "tri")
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert c.review.decisions[0] == Decision(RELABELLED, 3)
    assert c.review.name(0) == "triangle"
    assert window.store.load_result(scenes[0], "demo-shapes").decisions[0] == Decision(RELABELLED, 3)
    assert window.table.table_model.data(window.table.table_model.index(0, 1)) == "triangle"


def test_relabel_to_a_class_the_model_lacks(qtbot, make_window, scenes, fake_model):
    """Typing a name no class has offers "+ New class"; Enter relabels to it, the table and
    the class list show it, it is stored, and undo takes the relabel back."""
    window, c, popup = relabel_popup_on_first(qtbot, make_window, scenes)
    qtbot.keyClicks(popup.search, "cross")
    assert [popup.list.item(i).text() for i in range(popup.list.count()) if not popup.list.item(i).isHidden()] \
        == ["+ New class \u201ccross\u201d"]
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert c.review.name(0) == "cross"
    qtbot.waitUntil(lambda: window.table.table_model.data(window.table.table_model.index(0, 1)) == "cross")
    assert window.store.flush(5)
    back = window.store.load_result(scenes[0], "demo-shapes")
    assert back.names()[0] == "cross" and back.decisions[0].label == len(window.controller.review.detections.class_names) - 1
    c.undo_stack.undo()
    assert c.review.name(0) != "cross"


def test_table_and_canvas_select_the_same_detection(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    c = window.controller
    window.table.selectRow(1)
    assert c.selected == c.visible().tolist()[1]
    assert window.canvas.item(c.selected).selected
    item = window.canvas.item(0)
    centre = item.box.center()
    point = window.canvas.mapFromScene(centre)
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert c.selected == 0
    rows = window.table.selectionModel().selectedRows()
    assert [r.row() for r in rows] == [0]


def test_filter_and_class_list_never_rerun(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    c = window.controller
    window.filter_panel.set_min_score(0.0)
    assert len(window.canvas.shown_indices()) == 4
    window.class_list.set_class_hidden("circle", True)
    assert all(c.review.name(i) != "circle" for i in window.canvas.shown_indices())
    assert "circle" in c.filter.hidden_classes
    window.class_list.set_class_hidden("circle", False)
    assert len(window.canvas.shown_indices()) == 4
    key(qtbot, window, Qt.Key.Key_M)
    assert not c.options.masks
    window.filter_panel.set_min_score(0.9)
    assert window.canvas.shown_indices() == [0]
    assert window.table.table_model.rowCount() == 1
    assert fake_model.calls == 1


def test_reopen_restores_without_the_model_and_changed_files_rerun(qtbot, make_window, scenes, fake_model,
                                                                   sightline_home):
    window = make_window(scenes[:2])
    wait_for_review(qtbot, window, scenes[0])
    c = window.controller
    c.decide(ACCEPTED, index=0)
    c.decide(REJECTED, index=2)
    key(qtbot, window, Qt.Key.Key_Return)
    assert window.store.load_result(scenes[0], "demo-shapes").reviewed
    window.close()
    window.store.close()

    again = make_window()
    drop_paths(again, [scenes[0].parent])
    review = wait_for_review(qtbot, again, scenes[0])
    assert review.decisions == {0: Decision(ACCEPTED), 2: Decision(REJECTED)} and review.reviewed
    assert again.jobs.jobs_run == 0
    entry = again.images.entry(0)
    assert entry.state == DONE and entry.reviewed
    stat = os.stat(scenes[1])
    os.utime(scenes[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))  # "edited" since
    again.controller.step(1)
    wait_for_review(qtbot, again, scenes[1])
    assert again.jobs.jobs_run == 1


def test_space_goes_to_next_unreviewed(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:3])
    wait_for_review(qtbot, window, scenes[0])
    key(qtbot, window, Qt.Key.Key_Return)  # mark the first reviewed
    key(qtbot, window, Qt.Key.Key_Space)
    wait_for_review(qtbot, window, scenes[1])
    key(qtbot, window, Qt.Key.Key_PageUp)
    wait_for_review(qtbot, window, scenes[0])
    key(qtbot, window, Qt.Key.Key_Right)
    wait_for_review(qtbot, window, scenes[1])


def test_broken_and_other_files(qtbot, make_window, scenes, fake_model, tmp_path):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(scenes[0].read_bytes())
    (folder / "sub" / "b.png").write_bytes(scenes[1].read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png at all")
    biggest = max(scenes, key=lambda p: p.stat().st_size).read_bytes()
    (folder / "cut.png").write_bytes(biggest[: len(biggest) // 2])
    (folder / "notes.txt").write_text("hello")
    (folder / "data.csv").write_text("a,b")
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: len(window.images) == 4)
    assert "2 other files skipped" in window.status.currentMessage()
    window.analyse_all()
    wait_all_analysed(qtbot, window)
    states = {e.name: e for e in window.images.entries()}
    assert states["a.png"].state == DONE and states["b.png"].state == DONE
    assert states["broken.png"].state == FAILED and states["broken.png"].failure
    assert states["cut.png"].state == FAILED and "truncated" in states["cut.png"].failure
    row = window.images.row_of(str(folder / "cut.png"))
    tip = window.images.data(window.images.index(row), Qt.ItemDataRole.ToolTipRole)
    assert "truncated" in tip
    window.controller.open_row(row)
    qtbot.waitUntil(lambda: "Cannot show" in window.canvas.message or "analyse" in window.canvas.message)
    assert not window.canvas.has_image


def test_analyse_all_progress_and_cancel(qtbot, make_window, scenes, fake_model):
    fake_model.delay = 0.4
    window = make_window(scenes)
    wait_for_review(qtbot, window, scenes[0])
    progress = []
    window.jobs.batch_progress.connect(lambda p: progress.append((p.done, p.total)))
    window.analyse_all()
    assert window.status.progress.isVisible() or window.status.progress.isVisibleTo(window.status)
    qtbot.waitUntil(lambda: progress and progress[-1][0] >= 1, timeout=20_000)
    window.controller.cancel_all()
    qtbot.wait(900)
    states = [e.state for e in window.images.entries()]
    assert NEW in states and not window.jobs.batch_active
    assert not window.status.progress.isVisibleTo(window.status)
    assert np.all([s in (NEW, DONE) for s in states])


def test_dropped_videos_are_said_to_be_in_the_video_panel(qtbot, make_window, scenes, fake_model, tmp_path):
    from engine.demo.shapes_video import write_shapes_video

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.png").write_bytes(scenes[0].read_bytes())
    write_shapes_video(folder / "clip.mp4", frames=5)
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: "Video panel" in window.status.currentMessage())
    assert window.status.currentMessage().startswith("1 image added, 1 video in the Video panel")
    drop_paths(window, [folder / "clip.mp4"])  # a video alone: no "0 images added"
    qtbot.waitUntil(lambda: window.status.currentMessage().startswith("1 video in the Video panel"))
