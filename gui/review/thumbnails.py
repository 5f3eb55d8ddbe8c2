"""Thumbnails made in the background, newest request first, kept in a bounded cache.

The list asks for a thumbnail only when it paints a row, so a 10,000-image folder costs
nothing until scrolled; rows scrolled past before their turn are dropped from the queue
and asked for again if they come back into view.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from engine.images import image_size
from gui.work import WorkPool

THUMBNAIL_SIZE = 96  # longest side, device-independent pixels (drawn at 64, sharp on HiDPI)
MAX_CACHED = 3000
MAX_PENDING = 300
MAX_IN_FLIGHT = 2
# Errors only: unreadable files are expected (the list shows them as failed).
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def _read_flag(path: str, size: int) -> int:
    """Decode at 1/2, 1/4 or 1/8 when the file is big enough (JPEG decodes that way fast)."""
    try:
        longest = max(image_size(path))
    except Exception:  # noqa: BLE001 - let the decoder report the problem
        return cv2.IMREAD_COLOR
    for factor, flag in _REDUCED:
        if longest // factor >= size:
            return flag
    return cv2.IMREAD_COLOR


def make_thumbnail(path: str, size: int = THUMBNAIL_SIZE) -> Optional[QImage]:
    """A small upright copy of the image at `path`, or None when it cannot be read.

    OpenCV decodes with the GIL released (EXIF orientation applied); Qt's reader is the
    fallback for formats OpenCV lacks.
    """
    bgr = cv2.imread(path, _read_flag(path, size))
    if bgr is None:
        return _qt_thumbnail(path, size)
    height, width = bgr.shape[:2]
    scale = size / max(height, width)
    if scale < 1:
        bgr = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    bgra = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    h, w = bgra.shape[:2]
    return QImage(bgra.data, w, h, bgra.strides[0], QImage.Format.Format_RGB32).copy()


def _qt_thumbnail(path: str, size: int) -> Optional[QImage]:
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and max(full.width(), full.height()) > size:
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image.convertToFormat(QImage.Format.Format_RGB32)


class ThumbnailCache(QObject):
    """`get(path)` answers at once (a cached image or None) and schedules what is missing;
    `ready(path)` says when one arrived."""

    ready = Signal(str)

    def __init__(self, pool: Optional[WorkPool] = None, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._pool = pool or WorkPool(threads=1, name="sightline-thumbnails")
        self._cache: OrderedDict[str, Optional[QImage]] = OrderedDict()
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()

    def get(self, path: str) -> Optional[QImage]:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        self._request(path)
        return None

    def has(self, path: str) -> bool:
        return path in self._cache

    def _request(self, path: str) -> None:
        if path in self._in_flight:
            return
        self._pending.pop(path, None)
        self._pending[path] = None  # newest last: served first
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        self._pump()

    def _pump(self) -> None:
        while self._pending and len(self._in_flight) < MAX_IN_FLIGHT:
            path, _ = self._pending.popitem(last=True)
            self._in_flight.add(path)
            self._pool.submit(make_thumbnail, path, on_done=lambda image, p=path: self._arrived(p, image),
                              on_error=lambda _message, p=path: self._arrived(p, None))

    def _arrived(self, path: str, image: Optional[QImage]) -> None:
        self._in_flight.discard(path)
        self._cache[path] = image
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        self.ready.emit(path)
        self._pump()

    def clear_pending(self) -> None:
        self._pending.clear()

    def shutdown(self) -> None:
        self._pending.clear()
        self._pool.shutdown()
