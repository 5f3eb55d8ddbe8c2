"""The canvas: the photo with its detections. Wheel and keys zoom, dragging pans, a click
selects the detection under the cursor (mask first, then the smallest box).

The canvas only draws what it is given: `show_image` for the photo, `show_review` for the
detections, which ones are visible and which is selected. It never runs a model and never
reads a file; updating the filter re-configures existing items (a frame's work).
"""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from engine.draw import OverlayStyle
from engine.label_placement import place_labels
from engine.types import Detections
from gui.viewer.image_item import ImageItem
from gui.viewer.overlays import DetectionItem

MIN_SCALE, MAX_SCALE = 0.01, 40.0
CLICK_SLOP = 5  # pixels a press may move and still be a click
BACKGROUND = QColor(30, 32, 36)


class ShownReview(Protocol):
    """What the canvas draws: detections with, for each, its class name, class and review
    state (`engine.review.ReviewRecord` fits; the viewer never imports the review)."""

    detections: Detections

    def name(self, index: int) -> str: ...

    def label(self, index: int) -> int: ...

    def state(self, index: int) -> str: ...


class Canvas(QGraphicsView):
    detection_clicked = Signal(int)  # stored detection index, -1 for empty space
    context_menu_requested = Signal(int, QPoint)  # index (-1 none), global position
    zoom_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setObjectName("canvas")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._image: Optional[ImageItem] = None
        self._items: dict[int, DetectionItem] = {}
        self.review: Optional[ShownReview] = None
        self.visible = np.zeros(0, np.int64)
        self.selected = -1
        self.options = OverlayStyle()
        self.message = ""
        self.hint = "Drop images or folders here, or use File ▸ Open"
        self._fit_mode = True
        self._press: Optional[QPoint] = None

    # content ---------------------------------------------------------------------------

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def image_size(self) -> tuple[int, int]:
        if self._image is None:
            return (0, 0)
        rect = self._image.boundingRect()
        return int(rect.height()), int(rect.width())

    def clear(self, message: str = "") -> None:
        self._drop_detections()
        if self._image is not None:
            self.scene().removeItem(self._image)
            self._image = None
        self.set_message(message)

    def show_image(self, levels) -> None:
        """Show an image_item.Pyramid; None clears the canvas."""
        self.clear(self.message)
        if not levels:
            self.zoom_changed.emit(0.0)
            return
        self._image = ImageItem(levels)
        self.scene().addItem(self._image)
        self.scene().setSceneRect(self._image.boundingRect())
        self.fit()

    def show_frame(self, levels) -> None:
        """A video frame: like `show_image`, but a frame of the same size replaces the pixels
        of the one shown and keeps the zoom and scroll position (playback repaints only)."""
        if levels and self._image is not None and self._image.pyramid.size == levels.size:
            self._image.set_pyramid(levels)
            return
        self.show_image(levels)

    def set_message(self, text: str) -> None:
        if text != self.message:
            self.message = text
            self.viewport().update()

    def show_review(self, review: Optional[ShownReview], visible: np.ndarray, selected: int,
                    options: OverlayStyle, classifier=None) -> None:
        """Show `visible` detections of `review`; items are made once per review and reused.
        `classifier` (a classifier_labels.LabelsView) adds its top label to each tag."""
        if review is not self.review:
            self._drop_detections()
            self.review = review
        self.visible, self.selected, self.options = visible, selected, options
        if review is None:
            return
        shown = set(visible.tolist())
        for index, item in self._items.items():
            if index not in shown:
                item.setVisible(False)
                item.label.setVisible(False)
        scale = self.current_scale()
        for index in shown:
            item = self._items.get(index) or self._make_item(index, scale)
            text = f"{review.name(index)} {review.detections.scores[index]:.2f}"
            top = classifier.top(index) if classifier is not None else None
            if top is not None:
                text += f" · {top[0]} {top[1]:.2f}"
            item.configure(review.label(index), text, review.state(index), index == selected, options)
            item.setVisible(True)
        self._place_labels()

    def _place_labels(self) -> None:
        """Label tags inside the image and not over each other, at this zoom (their size on
        screen is fixed): the selected one first, then by score."""
        shown = [(i, item) for i, item in self._items.items() if item.isVisible() and item.label.isVisible()]
        if not shown or self._image is None or self.review is None:
            return
        scale = max(self.current_scale(), 1e-6)
        scores = self.review.detections.scores
        shown.sort(key=lambda pair: (pair[0] != self.selected, -float(scores[pair[0]])))
        boxes = [(it.box.left(), it.box.top(), it.box.right(), it.box.bottom()) for _i, it in shown]
        sizes = [(it.label.boundingRect().width() / scale, it.label.boundingRect().height() / scale) for _i, it in shown]
        height, width = self.image_size()
        for (_index, item), (x, y) in zip(shown, place_labels(boxes, sizes, (width, height))):
            item.label.setPos(x, y)

    def _make_item(self, index: int, scale: float) -> DetectionItem:
        det = self.review.detections
        item = DetectionItem(index, det.boxes[index], det.masks[index] if det.masks is not None else None,
                             det.keypoints[index] if det.keypoints is not None else None, det.skeleton)
        item.set_view_scale(scale)
        self.scene().addItem(item)
        self.scene().addItem(item.label)
        self._items[index] = item
        return item

    def _drop_detections(self) -> None:
        for item in self._items.values():
            self.scene().removeItem(item)
            self.scene().removeItem(item.label)
        self._items.clear()
        self.review, self.visible, self.selected = None, np.zeros(0, np.int64), -1

    def item(self, index: int) -> Optional[DetectionItem]:
        return self._items.get(index)

    def shown_indices(self) -> list[int]:
        return sorted(i for i, item in self._items.items() if item.isVisible())

    # zoom --------------------------------------------------------------------------------

    def current_scale(self) -> float:
        return float(self.transform().m11())

    def fit(self) -> None:
        if self._image is None:
            return
        self._fit_mode = True
        self.fitInView(self._image.boundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.current_scale() > 8.0:
            self.setTransform(self.transform().fromScale(8.0, 8.0))
        self._zoomed()

    def actual_size(self) -> None:
        centre = self.mapToScene(self.viewport().rect().center())
        self._fit_mode = False
        self.resetTransform()
        self.centerOn(centre)
        self._zoomed()

    def zoom_by(self, factor: float, anchor_under_mouse: bool = False) -> None:
        scale = self.current_scale()
        factor = max(MIN_SCALE / scale, min(MAX_SCALE / scale, factor))
        if not anchor_under_mouse:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._fit_mode = False
        self._zoomed()

    def centre_on_detection(self, index: int) -> None:
        """Scroll so the detection is in view (no zoom change) if it is not already."""
        item = self._items.get(index)
        if item is None:
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if not visible.contains(item.box):
            self.centerOn(item.box.center())

    def _zoomed(self) -> None:
        scale = self.current_scale()
        for item in self._items.values():
            item.set_view_scale(scale)
        self._place_labels()
        self.zoom_changed.emit(scale)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() / 120.0
        if steps and self._image is not None:
            self.zoom_by(1.25 ** steps, anchor_under_mouse=True)
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # picking -----------------------------------------------------------------------------

    def detection_at(self, scene_point: QPointF) -> int:
        """The visible detection under a scene point: on its mask first, smallest box wins."""
        x, y = scene_point.x(), scene_point.y()
        on_mask, in_box = [], []
        for index in self.visible.tolist():
            item = self._items.get(index)
            if item is None or not item.box.contains(scene_point):
                continue
            area = item.box.width() * item.box.height()
            (on_mask if item.contains_point(x, y) else in_box).append((area, index))
        candidates = on_mask or in_box
        return min(candidates)[1] if candidates else -1

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._press = event.position().toPoint() if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if (event.position().toPoint() - press).manhattanLength() <= CLICK_SLOP and self.review is not None:
            self.detection_clicked.emit(self.detection_at(self.mapToScene(press)))

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt API
        index = self.detection_at(self.mapToScene(event.pos())) if self.review is not None else -1
        self.context_menu_requested.emit(index, event.globalPos())

    # foreground text ---------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt API
        text = self.message or ("" if self._image is not None else self.hint)
        if not text:
            return
        painter.save()
        painter.resetTransform()
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * (1.0 if self._image is not None else 1.25))
        painter.setFont(font)
        area = self.viewport().rect()
        if self._image is None:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(area.adjusted(40, 40, -40, -40), flags, text)
        else:
            metrics = painter.fontMetrics()
            width = min(area.width() - 24, metrics.horizontalAdvance(text) + 24)
            box = QRectF(12, 12, width, metrics.height() + 12)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor(240, 240, 240))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width) - 16))
        painter.restore()
