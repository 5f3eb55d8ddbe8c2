"""Every command of the window as a QAction with its shortcut, and the menus built from them.

Other panels add their own entries with `MainWindow.menu("Tools").addAction(...)`.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

# name: (text, shortcuts, tip, checkable); TOOLBAR_TEXT gives the short toolbar label
ACTIONS = {
    "open_images": ("&Open images…", ["Ctrl+O"], "Add image files to the list", False),
    "open_folder": ("Open &folder…", ["Ctrl+Shift+O"], "Add every image in a folder and its sub-folders", False),
    "clear_list": ("C&lear list", [], "Remove every image from the list (decisions are kept)", False),
    "export": ("&Export…", ["Ctrl+E"], "Write COCO JSON, CSV or annotated images", False),
    "quit": ("&Quit", ["Ctrl+Q"], "Close Sightline", False),
    "fit": ("&Fit to window", ["F"], "Show the whole image", False),
    "actual_size": ("&Actual size (100%)", ["1"], "One image pixel per screen pixel", False),
    "zoom_in": ("Zoom &in", ["+", "="], "Zoom in", False),
    "zoom_out": ("Zoom &out", ["-"], "Zoom out", False),
    "masks": ("&Masks", ["M"], "Show instance masks", True),
    "boxes": ("&Boxes", ["B"], "Show boxes", True),
    "labels": ("&Labels", ["T"], "Show class and score labels", True),
    "keypoints": ("&Keypoints", ["P"], "Show keypoints and skeleton lines", True),
    "rejected": ("Show &rejected", ["X"], "Show rejected detections, greyed and dashed", True),
    "accept": ("&Accept", ["A"], "Accept the selected detection", False),
    "reject": ("&Reject", ["R"], "Reject the selected detection", False),
    "relabel": ("Re&label…", ["L"], "Give the selected detection another class", False),
    "clear_decision": ("&Clear decision", ["U"], "Make the selected detection pending again", False),
    "apply_classifier": ("Appl&y classifier label", ["C"],
                         "Relabel the selected detection with the classifier's top label", False),
    "apply_classifier_all": ("Apply classifier labels to all matc&hing", ["Shift+C"],
                             "Give every pending detection shown the classifier's top label, where the model "
                             "has that class", False),
    "next_detection": ("Next detection", ["J", "Down"], "Select the next detection", False),
    "previous_detection": ("Previous detection", ["K", "Up"], "Select the previous detection", False),
    "deselect": ("Deselect", ["Escape"], "Select no detection", False),
    "next_image": ("&Next image", ["PgDown", "Right"], "Show the next image", False),
    "previous_image": ("&Previous image", ["PgUp", "Left"], "Show the previous image", False),
    "next_unreviewed": ("Next &unreviewed image", ["Space"], "Show the next image not marked reviewed", False),
    "mark_reviewed": ("&Mark image reviewed", ["Return", "Enter"], "Mark (or unmark) this image as reviewed", True),
    "analyse_all": ("Analyse &all", ["Ctrl+Shift+A"], "Analyse every image not analysed yet", False),
    "cancel_all": ("Cancel analysis", [], "Stop analysing the list", False),
    "reanalyse": ("Re-analyse &image", ["Ctrl+Shift+R"], "Run the model on this image again", False),
    "import_weights": ("&Import model weights…", [], "Install a weights file for a model", False),
    "train_classifier": ("&Train…", ["Ctrl+T"],
                         "Train a classifier on class folders, or a detector on reviewed images", False),
    "train_detector": ("Train &detector…", ["Ctrl+Shift+T"],
                       "Fine-tune a detector on the images you reviewed, or on a COCO file", False),
    "shortcuts": ("&Keyboard shortcuts", ["F1"], "List every key", False),
    "about": ("&About Sightline", [], "", False),
}

CHECKED_BY_DEFAULT = {"masks", "boxes", "labels", "keypoints"}
TOOLBAR_TEXT = {
    "open_images": "Open", "open_folder": "Folder", "previous_image": "◀ Prev", "next_image": "Next ▶",
    "accept": "Accept", "reject": "Reject", "relabel": "Relabel", "mark_reviewed": "Reviewed",
    "fit": "Fit", "actual_size": "100%", "export": "Export", "analyse_all": "Analyse all",
}


def build_actions(window: QMainWindow) -> dict[str, QAction]:
    actions = {}
    for name, (text, keys, tip, checkable) in ACTIONS.items():
        action = QAction(text, window)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setProperty("dormant_keys", keys)  # F1 lists them also while switched off (gui/shortcuts.py)
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.setChecked(name in CHECKED_BY_DEFAULT)
        if name in TOOLBAR_TEXT:
            action.setIconText(TOOLBAR_TEXT[name])
        window.addAction(action)  # shortcuts work wherever focus is in the window
        actions[name] = action
    return actions


def build_menus(window: QMainWindow, actions: dict[str, QAction], undo: QAction, redo: QAction,
                recent: QMenu) -> dict[str, QMenu]:
    bar = window.menuBar()
    menus = {}

    def menu(title: str, entries: list) -> None:
        m = bar.addMenu(title)
        for entry in entries:
            if entry is None:
                m.addSeparator()
            elif isinstance(entry, QMenu):
                m.addMenu(entry)
            elif isinstance(entry, QAction):
                m.addAction(entry)
            else:
                m.addAction(actions[entry])
        menus[title.replace("&", "")] = m

    menu("&File", ["open_images", "open_folder", recent, "clear_list", None, "export", None, "quit"])
    menu("&Edit", [undo, redo])
    menu("&View", ["fit", "actual_size", "zoom_in", "zoom_out", None, "masks", "boxes", "labels", "keypoints",
                   "rejected"])
    menu("&Review", ["accept", "reject", "relabel", "clear_decision", "apply_classifier", "apply_classifier_all",
                     None, "next_detection",
                     "previous_detection", "deselect", None, "previous_image", "next_image", "next_unreviewed",
                     "mark_reviewed", None, "analyse_all", "cancel_all", "reanalyse"])
    menu("&Tools", ["train_classifier", "train_detector", None, "import_weights"])
    menu("&Help", ["shortcuts", "about"])
    return menus

