"""The image list: a flat Qt model of entries (path, analysis state, counts) and a delegate
that paints a thumbnail, the name and a state badge. Cheap for 10,000 rows: uniform row
heights, thumbnails only for painted rows, no per-row widgets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from gui.review.thumbnails import ThumbnailCache

NEW, QUEUED, ANALYSING, DONE, FAILED = "new", "queued", "analysing", "done", "failed"

BADGE_COLOURS = {
    NEW: "#5b6270", QUEUED: "#4f6d9a", ANALYSING: "#c48a1b", DONE: "#2f8f5b", FAILED: "#c0453c",
    "reviewed": "#2a7fb8",
}
EntryRole = Qt.ItemDataRole.UserRole + 1


@dataclass
class Entry:
    path: str
    name: str
    state: str = NEW
    scores: Optional[np.ndarray] = None  # float32, detection order
    rejected: frozenset = frozenset()
    failure: str = ""
    reviewed: bool = False
    decided: int = 0

    def apply_summary(self, summary) -> None:
        """Take the state from an engine.store.RecordSummary (None: never analysed)."""
        if summary is None:
            self.state, self.scores, self.rejected, self.failure = NEW, None, frozenset(), ""
            self.reviewed, self.decided = False, 0
            return
        self.state = FAILED if summary.failure else DONE
        self.scores, self.rejected, self.failure = summary.scores, summary.rejected, summary.failure
        self.reviewed, self.decided = summary.reviewed, summary.decided

    def count(self, min_score: float) -> int:
        if self.scores is None:
            return 0
        keep = self.scores >= np.float32(min_score)
        if self.rejected:
            keep[list(self.rejected)] = False
        return int(np.count_nonzero(keep))

    def badge(self, min_score: float) -> tuple[str, str]:
        """(text, colour key) of the state badge."""
        if self.state == FAILED:
            return "failed", FAILED
        if self.state == DONE:
            n = self.count(min_score)
            text = f"{n} detection{'s' if n != 1 else ''}"
            return (f"reviewed · {n}", "reviewed") if self.reviewed else (text, DONE)
        return {NEW: "not analysed", QUEUED: "queued", ANALYSING: "analysing…"}[self.state], self.state


class ImageListModel(QAbstractListModel):
    """The images in the window, in the order they were added."""

    def __init__(self, thumbnails: ThumbnailCache, parent=None):
        super().__init__(parent)
        self._entries: list[Entry] = []
        self._rows: dict[str, int] = {}
        self.min_score = 0.5
        self.thumbnails = thumbnails
        thumbnails.ready.connect(self._thumbnail_ready)

    # Qt model -------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == EntryRole:
            return entry
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(entry.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            text, _ = entry.badge(self.min_score)
            tip = f"{entry.path}\n{text}"
            return f"{tip}\n{entry.failure}" if entry.failure else tip
        return None

    # entries -------------------------------------------------------------------------

    def add(self, entries: Iterable[Entry]) -> int:
        fresh = []
        for entry in entries:
            if entry.path not in self._rows:
                self._rows[entry.path] = -1
                fresh.append(entry)
        if not fresh:
            return 0
        start = len(self._entries)
        self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
        for offset, entry in enumerate(fresh):
            self._rows[entry.path] = start + offset
        self._entries.extend(fresh)
        self.endInsertRows()
        return len(fresh)

    def clear(self) -> None:
        self.beginResetModel()
        self._entries, self._rows = [], {}
        self.endResetModel()

    def entry(self, row: int) -> Entry:
        return self._entries[row]

    def row_of(self, path: str) -> int:
        return self._rows.get(path, -1)

    def entry_for(self, path: str) -> Optional[Entry]:
        row = self._rows.get(path, -1)
        return self._entries[row] if row >= 0 else None

    def entries(self) -> list[Entry]:
        return self._entries

    def paths(self) -> list[str]:
        return [e.path for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def update(self, path: str, **fields) -> None:
        row = self._rows.get(path, -1)
        if row < 0:
            return
        entry = self._entries[row]
        for key, value in fields.items():
            setattr(entry, key, value)
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def update_many(self, paths, **fields) -> None:
        """Change many entries with one repaint (e.g. 10,000 entries queued at once)."""
        rows = [self._rows[p] for p in paths if p in self._rows]
        for row in rows:
            for key, value in fields.items():
                setattr(self._entries[row], key, value)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def set_min_score(self, min_score: float) -> None:
        self.min_score = min_score
        if self._entries:
            self.dataChanged.emit(self.index(0), self.index(len(self._entries) - 1))

    def _thumbnail_ready(self, path: str) -> None:
        row = self._rows.get(path, -1)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def entry_for_path(path: str) -> Entry:
    return Entry(path=path, name=os.path.basename(path))


class ImageListDelegate(QStyledItemDelegate):
    """Thumbnail on the left, file name and a coloured state badge on the right."""

    ROW_HEIGHT = 60
    THUMB = QSize(64, 48)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt API
        return QSize(200, self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        entry: Entry = index.data(EntryRole)
        if entry is None:
            return
        painter.save()
        rect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.AlternateBase))
        self._paint_thumbnail(painter, QRect(rect.left() + 6, rect.top() + 6, self.THUMB.width(), self.THUMB.height()),
                              index.data(Qt.ItemDataRole.DecorationRole), palette)
        text_left = rect.left() + self.THUMB.width() + 14
        text_rect = QRect(text_left, rect.top() + 8, rect.right() - text_left - 6, 20)
        colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        painter.setPen(colour)
        metrics = QFontMetrics(option.font)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(entry.name, Qt.TextElideMode.ElideMiddle, text_rect.width()))
        model = index.model()
        text, key = entry.badge(getattr(model, "min_score", 0.5))
        self._paint_badge(painter, text, key, text_left, rect.top() + 32, option.font)
        painter.restore()

    @staticmethod
    def _paint_thumbnail(painter: QPainter, box: QRect, image, palette: QPalette) -> None:
        painter.fillRect(box, palette.color(QPalette.ColorRole.Base).darker(115))
        if image is None:
            return
        size = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, image)

    @staticmethod
    def _paint_badge(painter: QPainter, text: str, key: str, left: int, top: int, font) -> None:
        small = type(font)(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        metrics = QFontMetrics(small)
        badge = QRect(left, top, metrics.horizontalAdvance(text) + 14, metrics.height() + 4)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(BADGE_COLOURS[key]))
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(small)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class ImageListView(QListView):
    """The list widget: single selection, smooth pixel scrolling, no drops of its own (the
    window takes them), keys left to the window's shortcuts."""

    def __init__(self, model: ImageListModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(ImageListDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("imageList")
