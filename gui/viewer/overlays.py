"""What is drawn over the photo for one detection: mask, box, label, keypoints + skeleton.

Colours come from `engine.draw.class_colour`, so the window and exported images agree.
Lines and keypoint dots keep their screen size at any zoom; mask bitmaps are made once,
at first paint, no larger than MAX_MASK_SIDE (the model's masks are 28x28 upsampled, so
nothing is lost).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from engine.draw import OverlayStyle, class_colour
from engine.store import ACCEPTED, REJECTED, RELABELLED
from engine.types import CroppedMask

MAX_MASK_SIDE = 1024
LABEL_Z = 100  # label tags above every detection's mask, box and keypoints
REJECTED_COLOUR = QColor(150, 150, 150)


def _mask_images(mask: CroppedMask, rgb: tuple[int, int, int]) -> tuple[Optional[QImage], Optional[QImage]]:
    """(fill, outline) ARGB images of a mask in its class colour."""
    bitmap = mask.bitmap
    if bitmap.size == 0:
        return None, None
    step = max(1, int(np.ceil(max(bitmap.shape) / MAX_MASK_SIDE)))
    bitmap = bitmap[::step, ::step]
    inner = bitmap.copy()
    inner[1:, :] &= bitmap[:-1, :]
    inner[:-1, :] &= bitmap[1:, :]
    inner[:, 1:] &= bitmap[:, :-1]
    inner[:, :-1] &= bitmap[:, 1:]
    edge = bitmap & ~inner
    return _argb(bitmap, rgb), _argb(edge, rgb)


def _argb(bitmap: np.ndarray, rgb: tuple[int, int, int]) -> QImage:
    height, width = bitmap.shape
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[bitmap] = (rgb[2], rgb[1], rgb[0], 255)  # BGRA in memory = ARGB32 on little endian
    image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
    return image.copy()


def _label_font(struck: bool) -> QFont:
    font = QFont()
    font.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
    font.setBold(True)
    font.setStrikeOut(struck)
    return font


class LabelItem(QGraphicsItem):
    """Class and score in a coloured tag; constant size on screen. Its position (the tag's
    top-left corner) is chosen by the canvas (`engine.label_placement`), above the box by default."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.text, self.colour, self.struck = "", QColor("white"), False
        self._rect = QRectF()

    def set_text(self, text: str, colour: QColor, struck: bool) -> None:
        self.prepareGeometryChange()
        self.text, self.colour, self.struck = text, colour, struck
        metrics = QFontMetricsF(_label_font(struck))
        self._rect = QRectF(0, 0, metrics.horizontalAdvance(text) + 10, metrics.height() + 4)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(_label_font(self.struck))
        dark = self.colour.lightnessF() > 0.55
        painter.setPen(QColor(20, 20, 20) if dark else QColor(250, 250, 250))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class DetectionItem(QGraphicsItem):
    """One detection; `configure` sets how it looks (state, selection, overlay options)."""

    def __init__(self, index: int, box: np.ndarray, mask: Optional[CroppedMask],
                 keypoints: Optional[np.ndarray], skeleton: tuple):
        super().__init__()
        self.index = index
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        x1, y1, x2, y2 = (float(v) for v in box)
        self.box = QRectF(x1, y1, x2 - x1, y2 - y1)
        self.mask = mask
        self.keypoints = keypoints
        self.skeleton = skeleton
        self.label_index = 0
        self.state = "pending"
        self.selected = False
        self.options = OverlayStyle()
        self._mask_images: Optional[tuple] = None
        self._margin = 6.0
        self._bounds = self._content_rect()
        self.label = LabelItem(None)  # its own scene item, over every detection (the canvas adds it)
        self.label.setZValue(LABEL_Z)
        self.label.setPos(self.box.topLeft())

    def _content_rect(self) -> QRectF:
        rect = QRectF(self.box)
        if self.mask is not None and self.mask.bitmap.size:
            h, w = self.mask.bitmap.shape
            rect = rect.united(QRectF(self.mask.x0, self.mask.y0, w, h))
        if self.keypoints is not None and len(self.keypoints):
            xs, ys = self.keypoints[:, 0], self.keypoints[:, 1]
            rect = rect.united(QRectF(float(xs.min()), float(ys.min()), float(np.ptp(xs)), float(np.ptp(ys))))
        return rect

    def configure(self, label_index: int, text: str, state: str, selected: bool, options: OverlayStyle) -> None:
        if label_index != self.label_index:
            self._mask_images = None
        self.label_index, self.state, self.selected, self.options = label_index, state, selected, options
        self.setZValue(10 if selected else (0 if state == REJECTED else 1))
        colour = self.colour()
        marks = {ACCEPTED: "✓ ", REJECTED: "✗ ", RELABELLED: "✎ "}
        self.label.set_text(marks.get(state, "") + text, colour.lighter(130) if selected else colour, state == REJECTED)
        self.label.setVisible(options.labels or selected)
        self.label.setZValue(LABEL_Z + (1 if selected else 0))
        self.update()

    def colour(self) -> QColor:
        if self.state == REJECTED:
            return REJECTED_COLOUR
        return QColor(*class_colour(self.label_index))

    def set_view_scale(self, scale: float) -> None:
        """Keep room for screen-sized dots and lines around the content at this zoom."""
        margin = 8.0 / max(scale, 1e-6)
        if abs(margin - self._margin) > 1e-6:
            self.prepareGeometryChange()
            self._margin = margin

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        m = self._margin
        return self._bounds.adjusted(-m, -m, m, m)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        colour = self.colour()
        if self.options.masks and self.mask is not None:
            self._paint_mask(painter)
        if self.options.boxes or self.selected:
            self._paint_box(painter, colour)
        if self.options.keypoints and self.keypoints is not None:
            self._paint_keypoints(painter, colour)

    def _paint_mask(self, painter: QPainter) -> None:
        if self._mask_images is None:
            rgb = (150, 150, 150) if self.state == REJECTED else class_colour(self.label_index)
            self._mask_images = _mask_images(self.mask, rgb)
        fill, edge = self._mask_images
        if fill is None:
            return
        h, w = self.mask.bitmap.shape
        target = QRectF(self.mask.x0, self.mask.y0, w, h)
        faded = 0.35 if self.state == REJECTED else 1.0
        painter.setOpacity(self.options.mask_opacity * faded)
        painter.drawImage(target, fill)
        painter.setOpacity(0.9 * faded)
        painter.drawImage(target, edge)
        painter.setOpacity(1.0)

    def _paint_box(self, painter: QPainter, colour: QColor) -> None:
        if self.selected:
            halo = QPen(QColor(255, 255, 255, 220), 5)
            halo.setCosmetic(True)
            painter.setPen(halo)
            painter.drawRect(self.box)
        pen = QPen(colour, 3 if self.selected else 2)
        pen.setCosmetic(True)
        if self.state == REJECTED:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.box)

    def _paint_keypoints(self, painter: QPainter, colour: QColor) -> None:
        points = self.keypoints
        visible = points[:, 2] > 0
        transform = painter.worldTransform()
        screen = [transform.map(QPointF(float(x), float(y))) for x, y, _ in points]
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(colour, 2))
        for a, b in self.skeleton:
            if a < len(points) and b < len(points) and visible[a] and visible[b]:
                painter.drawLine(screen[a], screen[b])
        painter.setPen(QPen(colour.darker(160), 1.5))
        painter.setBrush(QBrush(QColor(255, 255, 255)))
        for point, ok in zip(screen, visible):
            if ok:
                painter.drawEllipse(point, 3.5, 3.5)
        painter.restore()

    def contains_point(self, x: float, y: float) -> bool:
        """True on the mask (when there is one), else inside the box."""
        if not self.box.contains(QPointF(x, y)):
            return False
        if self.mask is None or self.mask.bitmap.size == 0:
            return True
        col, row = int(x) - self.mask.x0, int(y) - self.mask.y0
        h, w = self.mask.bitmap.shape
        return 0 <= row < h and 0 <= col < w and bool(self.mask.bitmap[row, col])
