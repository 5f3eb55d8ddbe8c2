"""A small QPainter line plot for per-epoch curves (training and validation loss or accuracy):
axes with round ticks, a legend, the best epoch marked. Cheap to repaint, no extra module."""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

TRAIN_COLOUR = "#5aa9f0"
VAL_COLOUR = "#f0a35a"
GRID_COLOUR = "#353940"
AXIS_TEXT = "#9aa1ab"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 10))
        value += step
    return ticks


class CurvePlot(QWidget):
    """Named series of (epoch, value) points; `add_point` appends and repaints."""

    def __init__(self, title: str, percent: bool = False, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.title = title
        self.percent = percent  # values in [0, 1] shown as 0-100 %
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.colours: dict[str, str] = {}
        self.epochs = 1  # planned, for the x axis
        self.best_epoch: Optional[int] = None
        self.setMinimumSize(260, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 240)

    def add_series(self, name: str, colour: str) -> None:
        self.series[name] = []
        self.colours[name] = colour
        self.update()

    def add_point(self, name: str, x: float, y: float) -> None:
        self.series[name].append((float(x), float(y)))
        self.update()

    def clear(self, epochs: int = 1) -> None:
        for points in self.series.values():
            points.clear()
        self.epochs, self.best_epoch = max(1, epochs), None
        self.update()

    def x_extent(self) -> int:
        """The last epoch on the x axis: the planned count when short, else room for what has run
        and a little more (a 300-epoch plan stopped early would squeeze its curve to the left)."""
        seen = int(max((x for points in self.series.values() for x, _ in points), default=0))
        if self.epochs <= 20:
            return max(self.epochs, seen)
        return max(seen, min(self.epochs, max(10, math.ceil(seen * 1.3))))

    def point_count(self) -> int:
        return sum(len(points) for points in self.series.values())

    # -- drawing ------------------------------------------------------------------------------

    def _y_range(self) -> tuple[float, float]:
        if self.percent:
            return 0.0, 1.0
        values = [y for points in self.series.values() for _, y in points if math.isfinite(y)]
        if not values:
            return 0.0, 1.0
        high = max(values)
        return 0.0, high * 1.08 if high > 0 else 1.0

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1d1f22"))
        font = QFont(self.font())
        metrics_height = painter.fontMetrics().height()
        left, top, right, bottom = 48, metrics_height + 14, 12, metrics_height + 12
        area = QRectF(left, top, max(10, self.width() - left - right), max(10, self.height() - top - bottom))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#dfe2e7"))
        painter.drawText(QRectF(8, 4, self.width() - 16, metrics_height + 4), Qt.AlignmentFlag.AlignLeft, self.title)
        font.setBold(False)
        painter.setFont(font)
        self._draw_legend(painter, metrics_height)
        low, high = self._y_range()
        epochs = self.x_extent()
        to_x = lambda x: area.left() + (x - 1) / max(1, epochs - 1) * area.width() if epochs > 1 else area.center().x()  # noqa: E731
        to_y = lambda y: area.bottom() - (min(max(y, low), high) - low) / (high - low) * area.height()  # noqa: E731
        self._draw_axes(painter, area, low, high, epochs, to_x, to_y)
        if self.best_epoch is not None:
            pen = QPen(QColor("#6fcf8f"), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            x = to_x(self.best_epoch)
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            if x + 40 < area.right():
                painter.drawText(QRectF(x + 3, area.top(), 40, 16), Qt.AlignmentFlag.AlignLeft, "best")
            else:
                painter.drawText(QRectF(x - 43, area.top(), 40, 16), Qt.AlignmentFlag.AlignRight, "best")
        for name, points in self.series.items():
            finite = [(x, y) for x, y in points if math.isfinite(y)]
            if not finite:
                continue
            colour = QColor(self.colours[name])
            path = QPainterPath(QPointF(to_x(finite[0][0]), to_y(finite[0][1])))
            for x, y in finite[1:]:
                path.lineTo(QPointF(to_x(x), to_y(y)))
            painter.setPen(QPen(colour, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.setBrush(colour)
            radius = 3.0 if len(finite) < 40 else 1.5
            for x, y in finite:
                painter.drawEllipse(QPointF(to_x(x), to_y(y)), radius, radius)
        if not any(self.series.values()):
            painter.setPen(QColor(AXIS_TEXT))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "points appear after each epoch")
        painter.end()

    def _draw_legend(self, painter: QPainter, text_height: int) -> None:
        x = self.width() - 10
        for name in reversed(list(self.series)):
            width = painter.fontMetrics().horizontalAdvance(name)
            x -= width
            painter.setPen(QColor("#c7ccd3"))
            painter.drawText(QPointF(x, 4 + text_height - 3), name)
            x -= 16
            painter.setPen(QPen(QColor(self.colours[name]), 3))
            painter.drawLine(QPointF(x, 4 + text_height / 2), QPointF(x + 11, 4 + text_height / 2))
            x -= 14

    def _draw_axes(self, painter: QPainter, area: QRectF, low, high, epochs, to_x, to_y) -> None:
        grid = QPen(QColor(GRID_COLOUR), 1)
        for tick in nice_ticks(low, high, 4):
            if tick < low - 1e-9 or tick > high + 1e-9:
                continue
            y = to_y(tick)
            painter.setPen(grid)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(QColor(AXIS_TEXT))
            label = f"{tick * 100:.0f}%" if self.percent else f"{tick:g}"
            painter.drawText(QRectF(0, y - 8, area.left() - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)  # fmt: skip
        ticks = [1] + [int(t) for t in nice_ticks(0, epochs, 6) if 1 < t <= epochs and t == int(t)]
        for epoch in ticks:
            x = to_x(epoch)
            painter.setPen(QColor(AXIS_TEXT))
            painter.drawText(QRectF(x - 20, area.bottom() + 2, 40, 16), Qt.AlignmentFlag.AlignCenter, str(epoch))
        painter.setPen(QPen(QColor("#4a4f57"), 1))
        painter.drawLine(area.bottomLeft(), area.bottomRight())
        painter.drawLine(area.bottomLeft(), area.topLeft())
