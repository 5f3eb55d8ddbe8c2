"""The images of one confusion-matrix cell: thumbnails made in the background, names below,
the full path as a tooltip; double-click opens an image in the system's viewer. Given the
classifier, each opens with its Grad-CAM for the class it was taken for (what the network
looked at to say so); a check box switches back to the plain images."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QListView, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)  # fmt: skip

from gui.wizard.common import dim_label
from gui.wizard.worker import BackgroundJob

THUMBNAIL = 128


def load_thumbnail(path: str, side: int = THUMBNAIL) -> Optional[QImage]:
    """A QImage at most `side` pixels on its longer side (decoded at reduced size when the
    format allows), or None when the file cannot be read. Safe off the GUI thread."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    if max(image.width(), image.height()) != side:  # small images are shown enlarged, pixels kept sharp
        mode = (Qt.TransformationMode.SmoothTransformation if max(image.width(), image.height()) > side
                else Qt.TransformationMode.FastTransformation)  # fmt: skip
        image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return image


def gradcam_thumbnail(explainer, path: str, target: str, side: int = THUMBNAIL) -> Optional[QImage]:
    """The image with the Grad-CAM of `target` over it, at most `side` pixels; None when the
    file cannot be read. Safe off the GUI thread."""
    from engine.explain.maps import overlay
    from engine.images import ImageLoadError, load_image

    try:
        image = load_image(path)
    except ImageLoadError:
        return None
    picture = np.ascontiguousarray(overlay(image, explainer.heatmaps(image, "gradcam", target=target)[0].values, 0.5))
    qimage = QImage(picture.data, picture.shape[1], picture.shape[0], picture.strides[0], QImage.Format.Format_RGB888)
    return qimage.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class MisclassifiedDialog(QDialog):
    def __init__(self, true: str, predicted: str, paths: list[str], parent: Optional[QWidget] = None,
                 checkpoint=None):  # fmt: skip
        super().__init__(parent)
        self.paths = list(paths)
        self.predicted, self.checkpoint = predicted, checkpoint
        self.icons: dict[str, list[Optional[QIcon]]] = {"photo": [None] * len(self.paths),
                                                        "gradcam": [None] * len(self.paths)}  # fmt: skip
        self.show_gradcam = QCheckBox(f"Grad-CAM: where the classifier saw '{predicted}'")
        self.show_gradcam.setChecked(checkpoint is not None)
        self.show_gradcam.setVisible(checkpoint is not None)
        self.show_gradcam.toggled.connect(lambda _: self._show_icons())
        self.gradcams_loaded = 0
        self.setWindowTitle(f"'{true}' taken for '{predicted}' ({len(self.paths)})")
        self.resize(760, 520)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.list.setGridSize(QSize(THUMBNAIL + 28, THUMBNAIL + 40))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.itemDoubleClicked.connect(self._open)
        blank = QPixmap(THUMBNAIL, THUMBNAIL)
        blank.fill(QColor("#2a2d32"))  # until the thumbnail arrives
        for path in self.paths:
            item = QListWidgetItem(QIcon(blank), Path(path).name)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(dim_label(f"{len(self.paths)} validation image(s) of class '{true}' that the classifier "
                                   f"called '{predicted}'. Double-click to open one."))  # fmt: skip
        layout.addWidget(self.show_gradcam)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.thumbnails_loaded = 0
        self._job = BackgroundJob(self._load_all, "thumbnails", self)
        self._job.item.connect(self._on_thumbnail)
        self._cam_job: Optional[BackgroundJob] = None
        self._job.finished.connect(self._start_gradcams)
        self._job.start()

    def _load_all(self, job: BackgroundJob) -> None:
        for index, path in enumerate(self.paths):
            if job.cancel.cancelled:
                return
            job.report_item(("photo", index, load_thumbnail(path)))

    def _start_gradcams(self) -> None:
        """After the photos: the Grad-CAMs, in a job the wizard does not wait for when it
        closes (it only paints thumbnails; quitting never waits for it either)."""
        if self.checkpoint is None or self._job.cancel.cancelled:
            return
        self._cam_job = BackgroundJob(self._gradcams, "gradcams")
        self._cam_job.item.connect(self._on_thumbnail)
        self._cam_job.start(on_device=True)  # model work: on the device scheduler, one job at a time

    def _gradcams(self, job: BackgroundJob) -> None:
        from engine.classify import Classifier
        from engine.explain import Explainer

        explainer = Explainer(Classifier(self.checkpoint, device="cpu"))
        for index, path in enumerate(self.paths):
            if job.cancel.cancelled:
                return
            job.report_item(("gradcam", index, gradcam_thumbnail(explainer, path, self.predicted)))

    def _on_thumbnail(self, payload) -> None:
        kind, index, image = payload
        item = self.list.item(index)
        if item is None:
            return
        if image is None and kind == "photo":
            item.setText(f"{item.text()}\n(cannot be read)")
        elif image is not None:
            self.icons[kind][index] = QIcon(QPixmap.fromImage(image))
        self.thumbnails_loaded += kind == "photo"
        self.gradcams_loaded += kind == "gradcam"
        self._show_icons(index)

    def _show_icons(self, only: Optional[int] = None) -> None:
        kind = "gradcam" if self.show_gradcam.isChecked() else "photo"
        for index in range(len(self.paths)) if only is None else (only,):
            icon = self.icons[kind][index] or self.icons["photo"][index]
            if icon is not None:
                self.list.item(index).setIcon(icon)

    def _open(self, item: QListWidgetItem) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole)))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        self._job.request_cancel()
        if self._cam_job is not None:
            self._cam_job.request_cancel()
        super().closeEvent(event)
