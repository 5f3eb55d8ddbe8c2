"""Help and look (issue 9): F1 lists every key of the window, About names the version and the
data folder, the toolbar has icons with their text on hover, long status messages can be read
whole (tooltip, View > Messages), and the wizards keep their last settings."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.about import version
from gui.shortcuts import ShortcutsDialog


def trigger(window, name: str) -> None:
    """Trigger the action; a dialog it runs modally (exec) is closed after 3 s, so the test
    fails instead of waiting for ever."""
    QTimer.singleShot(3000, window, lambda: (QApplication.activeModalWidget() or window).hide()
                      if QApplication.activeModalWidget() is not None else None)
    next(a for a in window.findChildren(QAction) if a.objectName() == name).trigger()


def open_shortcuts(qtbot, window) -> ShortcutsDialog:
    trigger(window, "shortcuts")
    qtbot.waitUntil(lambda: (d := window.findChild(ShortcutsDialog)) is not None and d.isVisible(), timeout=5000)
    return window.findChild(ShortcutsDialog)


def test_f1_lists_every_key_of_the_window_undo_redo_and_video(qtbot, make_window, fake_model):
    window = make_window()
    added = QAction("Toggle the grid", window)  # an action a later panel adds
    added.setShortcut(QKeySequence("Ctrl+G"))
    window.addAction(added)
    rows = open_shortcuts(qtbot, window).as_text().splitlines()
    listed = {(line.split("\t")[0], line.split("\t")[1]) for line in rows}
    native = QKeySequence.SequenceFormat.NativeText
    for action in window.findChildren(QAction):
        for key in action.shortcuts():
            assert any(key.toString(native) in keys.split(", ") for keys, _ in listed), action.text()
    commands = {command for _, command in listed}
    assert "Toggle the grid" in commands
    assert any(c.startswith("Undo") for c in commands) and any(c.startswith("Redo") for c in commands)
    assert "Ctrl+Z\tUndo\tEdit" in rows and "Ctrl+Shift+Z, Ctrl+Y\tRedo\tEdit" in rows, rows
    for command, key in (("Play / pause video", "Space"), ("Previous frame", ","), ("Next frame", "."),
                         ("Jump to the video's start", "Home"), ("Jump to the video's end", "End")):
        assert any(line.startswith(f"{key}\t{command}\tVideo panel") for line in rows), (command, rows)


def test_about_of_the_window_names_version_and_data_folder(qtbot, make_window, fake_model, sightline_home):
    window = make_window()
    trigger(window, "about")
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), timeout=5000)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert version() in box.text() and "unknown" not in version()
    assert str(sightline_home) in box.text() and "Data" in box.text()
    box.close()


def test_toolbar_shows_icons_and_its_words_on_hover(qtbot, make_window, fake_model):
    window = make_window(size=(1024, 700))
    buttons = [window.toolbar.widgetForAction(a) for a in window.toolbar.actions() if not a.isSeparator()]
    assert len(buttons) == 12 and window.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    for button in buttons:
        action = button.defaultAction()
        image = button.icon().pixmap(22, 22).toImage()
        assert not image.isNull() and any(image.pixelColor(x, y).alpha() > 0 for x in range(22) for y in range(22)), \
            action.objectName()
        assert button.toolTip().startswith(action.iconText()), button.toolTip()
    export = next(b for b in buttons if b.defaultAction().objectName() == "export")
    assert export.toolTip() == "Export (Ctrl+E): Write COCO JSON, CSV or annotated images"
    assert window.toolbar.sizeHint().width() <= 1024  # every button fits the narrow window


def test_every_toolbar_icon_is_bundled_for_desktops_without_a_theme(qapp):
    from gui.toolbar_icons import THEME_NAMES, bundled_icon, bundled_icon_path

    for name in THEME_NAMES:
        assert bundled_icon_path(name).is_file(), name
        assert not bundled_icon(name).pixmap(22, 22).isNull(), name


def test_a_long_status_message_can_be_read_whole(qtbot, make_window, fake_model):
    from gui.messages import MessagesDialog

    window = make_window(size=(1024, 700))
    long = ("scene-900009.png is 8000×6000 px: shown to the model at 1333×1000 (its working size) and the boxes "
            "mapped back; about 2.1 GB of memory needed, 9.5 GB free")
    window.controller.status.emit(long)
    bar = window.status
    qtbot.waitUntil(lambda: bar.currentMessage() == long)
    assert bar.fontMetrics().horizontalAdvance(long) > bar.width() - 200  # the bar itself cuts it
    assert bar.toolTip() == long
    for tip in ("Write COCO JSON, CSV or annotated images", ""):  # the mouse over Export, then off it
        QApplication.sendEvent(window, QStatusTipEvent(tip))
    assert bar.currentMessage() == long and bar.toolTip() == long
    trigger(window, "messages")
    qtbot.waitUntil(lambda: (d := window.findChild(MessagesDialog)) is not None and d.isVisible(), timeout=5000)
    dialog = window.findChild(MessagesDialog)
    lines = dialog.text.toPlainText().splitlines()
    assert any(line.endswith(long) and line[2] == ":" and line[5] == ":" for line in lines), lines
    later = "Analysis finished"
    bar.showMessage(later, 1000)
    qtbot.waitUntil(lambda: dialog.text.toPlainText().endswith(later))
    assert bar.toolTip() == later


def reopen(qtbot, window, name: str, holder):
    """Close the wizard `holder.wizard` (if open), then open it again from its Tools action."""
    if holder.wizard is not None:
        holder.wizard.close()
        qtbot.waitUntil(lambda: holder.wizard is None, timeout=5000)
    trigger(window, name)
    qtbot.waitUntil(lambda: holder.wizard is not None and holder.wizard.isVisible(), timeout=10_000)
    return holder.wizard


def test_the_classifier_wizard_opens_with_its_last_settings(qtbot, make_window, fake_model, tmp_path):
    window = make_window()
    tools = window.classifier_tools
    wizard = reopen(qtbot, window, "train_classifier", tools)
    page = wizard.settings_page
    defaults = (page.batch_spin.value(), page.lr_edit.text(), page.size_spin.value())
    wizard.data_page.folder_edit.setText(str(tmp_path / "flowers"))
    wizard.data_page.val_spin.setValue(30)
    wizard.strategy_page.set_backbone("resnet34")
    page.aug_checks["flip"].setChecked(False)
    page.aug_sliders["colour"].setValue(20)
    page.optimizer_combo.setCurrentIndex(page.optimizer_combo.findData("sgd"))
    page.batch_spin.setValue(16)
    page.lr_edit.setText("0.003")
    page.size_spin.setValue(96)
    assert defaults != (16, "0.003", 96)
    wizard = reopen(qtbot, window, "train_classifier", tools)
    page = wizard.settings_page
    assert wizard.data_page.folder_edit.text() == str(tmp_path / "flowers")
    assert wizard.data_page.val_spin.value() == 30 and wizard.strategy_page.backbone == "resnet34"
    assert not page.aug_checks["flip"].isChecked() and page.aug_sliders["colour"].value() == 20
    assert page.optimizer_combo.currentData() == "sgd"
    assert (page.batch_spin.value(), page.lr_edit.text(), page.size_spin.value()) == (16, "0.003", 96)
    wizard.close()


def test_the_detector_wizard_opens_with_its_last_settings(qtbot, make_window, fake_model, tmp_path):
    window = make_window()
    holder = window.classifier_tools.detector_training
    wizard = reopen(qtbot, window, "train_detector", holder)
    coco = tmp_path / "annotations.json"
    wizard.data_page.folder.setText(str(tmp_path))
    wizard.data_page.from_coco.setChecked(True)
    wizard.data_page.coco.setText(str(coco))
    wizard.training_page.epochs.setValue(5)
    wizard.training_page.val_fraction.setValue(0.35)
    wizard = reopen(qtbot, window, "train_detector", holder)
    assert wizard.data_page.folder.text() == str(tmp_path) and wizard.data_page.coco.text() == str(coco)
    assert wizard.data_page.from_coco.isChecked() and not wizard.data_page.from_review.isChecked()
    assert wizard.training_page.epochs.value() == 5 and abs(wizard.training_page.val_fraction.value() - 0.35) < 1e-9
    wizard.close()


def test_the_segmenter_dialog_opens_with_its_last_settings(qtbot, make_window, fake_model, tmp_path):
    window = make_window()
    action = next(a for a in window.menu("Tools").actions() if a.text().replace("&", "").startswith("Train segmenter"))
    action.trigger()
    dialog = window.segmenter_dialog
    dialog.folder.setText(str(tmp_path))
    dialog.from_review.setChecked(True)
    dialog.epochs.setValue(3)
    dialog.image_size.setValue(160)
    dialog.minutes.setValue(12)
    dialog.close()
    action.trigger()
    again = window.segmenter_dialog
    assert again is not dialog and again.folder.text() == str(tmp_path) and again.from_review.isChecked()
    assert (again.epochs.value(), again.image_size.value(), again.minutes.value()) == (3, 160, 12)
    again.close()


def test_the_wizard_data_report_note_is_shown_whole(qtbot, make_window, fake_model, tmp_path):
    from engine.train.synthetic import write_shapes

    all_clear = "No problems found: every image could be read, no duplicates across splits"
    write_shapes(tmp_path / "shapes", 6, size=32, classes=("circle", "square"))
    window = make_window(size=(1024, 700))
    wizard = reopen(qtbot, window, "train_classifier", window.classifier_tools)
    wizard.resize(wizard.minimumSize())  # the narrowest it gets
    wizard.next()  # from the first page's choice (a classifier, the default) to its data page
    page = wizard.data_page
    assert wizard.currentPage() is page
    page.set_folder(tmp_path / "shapes")
    qtbot.waitUntil(lambda: page.report is not None and page.check_button.isEnabled(), timeout=60_000)
    note = page.message
    qtbot.waitUntil(lambda: note.isVisible(), timeout=3000)
    assert note.text().startswith(all_clear) and note.wordWrap()
    assert note.height() >= note.heightForWidth(note.width())  # every wrapped line fits
    assert note.fontMetrics().horizontalAdvance(all_clear) > page.issues.columnWidth(0)  # too long for a cell
    wizard.close()


def test_f1_while_a_video_is_shown_still_lists_keys_switched_off(qtbot, make_window, fake_model, tmp_path):
    from engine.demo.shapes_video import write_shapes_video

    write_shapes_video(tmp_path / "clip.mp4", frames=10)
    window = make_window([tmp_path / "clip.mp4"])
    qtbot.waitUntil(lambda: window.video_panel.active and window.video_panel.video.current == 0, timeout=10_000)
    assert window.actions_["next_unreviewed"].shortcuts() == []  # Space plays the video now
    rows = open_shortcuts(qtbot, window).as_text().splitlines()
    assert "Space\tPlay / pause video\tVideo panel" in rows, rows
    assert "Space\tNext unreviewed image\tReview (when it applies)" in rows, rows
