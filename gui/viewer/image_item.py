"""The photo in the canvas, as an image pyramid: each paint draws only the exposed part from
the level closest to the screen's resolution, so an 8000x6000 image pans and zooms as
smoothly as a small one.

Levels are made in the background with OpenCV, which lets go of Python's GIL while it
works (Qt's own QImage.scaled does not), so the window keeps ticking meanwhile.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

SMALLEST_LEVEL = 768  # stop halving below this longest side


def bgra_qimage(bgra: np.ndarray) -> QImage:
    """A QImage over a (H, W, 4) uint8 BGRA array's memory (no copy: keep the array alive)."""
    height, width = bgra.shape[:2]
    return QImage(bgra.data, width, height, bgra.strides[0], QImage.Format.Format_RGB32)


class Pyramid:
    """Display levels of one image: the full size, then halves (any thread)."""

    def __init__(self, rgb: np.ndarray):
        level = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGRA)
        self.arrays = [level]
        while max(level.shape[:2]) > SMALLEST_LEVEL * 1.5:
            size = (max(1, level.shape[1] // 2), max(1, level.shape[0] // 2))
            level = cv2.resize(level, size, interpolation=cv2.INTER_AREA)
            self.arrays.append(level)
        self.images = [bgra_qimage(a) for a in self.arrays]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the full image."""
        return self.arrays[0].shape[0], self.arrays[0].shape[1]

    def __len__(self) -> int:
        return len(self.images)


class ImageItem(QGraphicsItem):
    """Draws a pyramid of QImages in full-resolution scene coordinates."""

    def __init__(self, pyramid: Pyramid):
        super().__init__()
        self.pyramid = pyramid  # owns the pixels the QImages point at
        self.levels = pyramid.images
        height, width = pyramid.size
        self._rect = QRectF(0, 0, width, height)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(-1)

    def set_pyramid(self, pyramid: Pyramid) -> None:
        """New pixels of the same size (the next video frame)."""
        self.pyramid, self.levels = pyramid, pyramid.images
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._rect

    def level_for(self, scale: float) -> int:
        """The smallest level that still has at least one pixel per screen pixel."""
        if scale >= 1.0 or len(self.levels) == 1:
            return 0
        return max(0, min(len(self.levels) - 1, int(math.floor(math.log2(1.0 / scale)))))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        exposed = option.exposedRect.intersected(self._rect)
        if exposed.isEmpty():
            return
        level = self.levels[self.level_for(scale)]
        factor = level.width() / self._rect.width()
        source = QRectF(exposed.left() * factor, exposed.top() * factor,
                        exposed.width() * factor, exposed.height() * factor)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
        painter.drawImage(exposed, level, source)
