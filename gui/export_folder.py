"""Where File ▸ Export… proposes to write: the folder the last export went to (kept in
QSettings across restarts), else the images' folder; never inside a folder of annotated
images an earlier export wrote (a second export used to land in `export/annotated/`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from engine.review.exporting import FOLDER_KINDS, ExportRequest

LAST_FOLDER_KEY = "export_folder"
OUTPUTS_KEY = "export_outputs"  # folders of annotated images written by earlier exports
MAX_OUTPUTS = 20


def outside_exports(folder: Path, outputs: list[Path]) -> Path:
    """`folder`, or the folder holding the outermost earlier export output it lies in."""
    for output in sorted(outputs, key=lambda p: len(p.parts)):
        if folder == output or output in folder.parents:
            return output.parent
    return folder


def _outputs(settings: QSettings) -> list[Path]:
    return [Path(p) for p in settings.value(OUTPUTS_KEY, [], list) or []]


def default_folder(settings: QSettings, fallback: Path) -> Path:
    """The folder the export dialog starts in."""
    remembered = settings.value(LAST_FOLDER_KEY, "")
    folder = Path(str(remembered)) if remembered else Path(fallback)
    return outside_exports(folder, _outputs(settings))


def remember(settings: QSettings, request: ExportRequest) -> None:
    """After an export: the folder holding what was written becomes the next default."""
    destination = Path(request.destination)
    if request.kind in FOLDER_KINDS:  # a folder it made: never the default for the next one
        kept = [str(p) for p in _outputs(settings) if p != destination]
        settings.setValue(OUTPUTS_KEY, [str(destination)] + kept[: MAX_OUTPUTS - 1])
    settings.setValue(LAST_FOLDER_KEY, str(outside_exports(destination.parent, _outputs(settings))))
