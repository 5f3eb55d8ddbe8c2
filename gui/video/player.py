"""The Video dock: transport controls, a seek slider with the timeline of analysed frames under
it, speed, time and frame number, live mode with its analysis rate (its results are drawn on
the canvas), and the analysis run's range and stride. Only a view: `panel.VideoPanel` wires it
up. Every text wraps, so nothing in it makes the dock wider than the user set it."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QPushButton, QSizePolicy, QSlider, QSpinBox, QToolButton, QVBoxLayout,
                               QWidget)

from gui.video.controller import SPEEDS

PLAY_TEXTS = {True: "❚❚", False: "▶"}  # the play button's text while playing / paused


def clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:05.2f}"


class Timeline(QWidget):
    """A strip under the slider: a mark at each analysed frame, taller where more was found."""

    clicked = Signal(int)  # frame

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("videoTimeline")
        self.setFixedHeight(16)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.frame_count = 0
        self.counts: dict[int, int] = {}  # analysed frame -> detections at the threshold
        self.current = -1
        self.setToolTip("Analysed frames: taller marks where more was found")

    def set_marks(self, frame_count: int, counts: dict[int, int]) -> None:
        self.frame_count, self.counts = frame_count, counts
        self.update()

    def set_current(self, frame: int) -> None:
        if frame != self.current:
            self.current = frame
            self.update()

    def x_of(self, frame: int) -> float:
        return (frame + 0.5) / max(1, self.frame_count) * self.width()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        height = self.height()
        painter.fillRect(self.rect(), QColor(40, 42, 48))
        if self.frame_count:
            most = max([1, *self.counts.values()])
            columns: dict[int, int] = {}  # one mark per pixel column, however long the video
            for frame, count in self.counts.items():
                x = int(self.x_of(frame))
                columns[x] = max(columns.get(x, -1), count)
            for x, count in columns.items():
                if count <= 0:
                    painter.fillRect(QRectF(x, height - 3, 1.5, 3), QColor(120, 130, 150))
                else:
                    bar = 4 + (height - 4) * count / most
                    painter.fillRect(QRectF(x, height - bar, 1.5, bar), QColor(80, 200, 120))
            if self.current >= 0:
                painter.setPen(QPen(QColor(255, 210, 80), 1))
                x = self.x_of(self.current)
                painter.drawLine(int(x), 0, int(x), height)
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.frame_count:
            frame = int(event.position().x() / max(1, self.width()) * self.frame_count)
            self.clicked.emit(max(0, min(self.frame_count - 1, frame)))


class PlayerWidget(QWidget):
    seek_requested = Signal(int)
    speed_chosen = Signal(float)
    live_toggled = Signal(bool)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("videoPlayer")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.videos = QComboBox()
        self.videos.setObjectName("videoChoice")
        self.videos.setToolTip("Videos opened in this session")
        self.videos.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.videos.setMinimumContentsLength(12)  # a long file name does not widen the dock
        layout.addWidget(self.videos)
        self.title = QLabel("No video: drop one on the window, or use File ▸ Open video…")
        self.title.setObjectName("dimLabel")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("videoSlider")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self._slid)
        self.timeline = Timeline()
        self.timeline.clicked.connect(self.seek_requested)
        layout.addWidget(self.slider)
        layout.addWidget(self.timeline)
        self.position = QLabel("0:00.00 / 0:00.00\nframe 0 / 0")
        self.position.setObjectName("videoPosition")
        self.position.setWordWrap(True)
        row = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for name in ("start", "back", "play", "forward", "end"):
            button = QToolButton()
            button.setObjectName(f"video_{name}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(button)
            self.buttons[name] = button
        self._fit_play_button()
        self.speed = QComboBox()
        self.speed.setObjectName("videoSpeed")
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed.currentIndexChanged.connect(lambda i: self.speed_chosen.emit(float(self.speed.itemData(i))))
        row.addStretch(1)
        layout.addLayout(row)
        where = QHBoxLayout()  # (the speed beside the time, not the buttons: the dock stays narrow)
        where.addWidget(self.position, 1)
        where.addWidget(self.speed)
        layout.addLayout(where)
        layout.addWidget(self._live_box())
        layout.addWidget(self._analysis_box())
        self.export_button = QPushButton("Export video results…")
        self.export_button.setObjectName("videoExport")
        layout.addWidget(self.export_button)
        layout.addStretch(1)
        self._updating = False
        self.set_video(None)

    def _live_box(self) -> QGroupBox:
        box = QGroupBox("Live")
        column = QVBoxLayout(box)
        self.live = QCheckBox("Analyse while playing")
        self.live.setObjectName("videoLive")
        self.live.setToolTip("The model analyses the newest frame shown; frames that arrive while it is busy "
                             "are skipped. Other model work waits meanwhile.")
        self.live.toggled.connect(self.live_toggled)
        self.live_rate = QLabel("Analysis rate: —")
        self.live_rate.setObjectName("videoLiveRate")
        self.live_rate.setWordWrap(True)
        self.live_rate.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens
        self.live_rate.setToolTip("While live mode plays, the canvas shows each analysed frame with its result: "
                                  "it changes as often as the model finishes, a little behind the video")
        for widget in (self.live, self.live_rate):
            column.addWidget(widget)
        return box

    def _analysis_box(self) -> QGroupBox:
        box = QGroupBox("Analyse")
        form = QFormLayout(box)
        self.range_start = QDoubleSpinBox()
        self.range_end = QDoubleSpinBox()
        for spin in (self.range_start, self.range_end):
            spin.setDecimals(2)
            spin.setSuffix(" s")
        self.range_start.setObjectName("videoRangeStart")
        self.range_end.setObjectName("videoRangeEnd")
        self.stride = QSpinBox()
        self.stride.setObjectName("videoStride")
        self.stride.setRange(1, 10_000)
        self.stride.setValue(5)
        self.stride.setToolTip("Analyse every Nth frame")
        self.analyse_button = QPushButton("Analyse range")
        self.analyse_button.setObjectName("videoAnalyse")
        self.analysed = QLabel("")
        self.analysed.setObjectName("dimLabel")
        self.analysed.setWordWrap(True)
        form.addRow("From", self.range_start)
        form.addRow("To", self.range_end)
        form.addRow("Every Nth frame", self.stride)
        form.addRow(self.analyse_button)
        form.addRow(self.analysed)
        return box

    # showing -------------------------------------------------------------------------------

    def set_video(self, info, frame_count: int = 0) -> None:
        """Show `info` (None: no video). The analysis range becomes the whole video, except when
        the same video comes again with its real frame count (the user's range is kept)."""
        same = info is not None and self.info is not None and info.path == self.info.path
        self.info, self.frame_count = info, frame_count
        has = info is not None
        for widget in (self.slider, self.speed, self.live, self.analyse_button, self.export_button,
                       self.range_start, self.range_end, self.stride, *self.buttons.values()):
            widget.setEnabled(has)
        if not has:
            self.title.setText("No video: drop one on the window, or use File ▸ Open video…")
            self.position.setText("")
            self.timeline.set_marks(0, {})
            self.live_rate.setText("Analysis rate: —")
            for spin in (self.range_start, self.range_end):
                spin.setRange(0, 0)
            return
        name = info.path.rsplit("/", 1)[-1]
        self.title.setText(f"{name} · {info.width}×{info.height} · {info.fps:.2f} frames/s · "
                           f"{frame_count:,} frames · {info.codec or 'unknown codec'}")
        self.title.setToolTip(info.path)
        self._updating = True
        self.slider.setRange(0, max(0, frame_count - 1))
        self._updating = False
        duration = frame_count / info.fps if info.fps else 0.0
        whole = not same or self.range_end.value() >= self.range_end.maximum()
        self.range_start.setRange(0, duration)
        self.range_end.setRange(0, duration)
        if not same:
            self.range_start.setValue(0)
        if whole:
            self.range_end.setValue(duration)

    def show_frame(self, frame: int) -> None:
        if self.info is None:
            return
        self._updating = True
        self.slider.setValue(frame)
        self._updating = False
        self.timeline.set_current(frame)
        total = self.frame_count / self.info.fps if self.info.fps else 0.0
        self.position.setText(f"{clock(frame / self.info.fps)} / {clock(total)}\nframe {frame + 1:,} / "
                              f"{self.frame_count:,}")  # (two lines: the dock stays narrow)

    def set_marks(self, counts: dict[int, int]) -> None:
        self.timeline.set_marks(self.frame_count, counts)
        found = sum(1 for c in counts.values() if c > 0)
        self.analysed.setText(f"{len(counts):,} frame{'s' if len(counts) != 1 else ''} analysed, {found:,} with "
                              f"detections" if counts else "No frame analysed yet")

    def set_playing(self, playing: bool) -> None:
        self.buttons["play"].setText(PLAY_TEXTS[playing])

    def _fit_play_button(self) -> None:
        """As wide as its wider text from the start: playing never makes the dock wider."""
        button = self.buttons["play"]
        button.ensurePolished()
        text, widths = button.text(), []
        for option in PLAY_TEXTS.values():
            button.setText(option)
            widths.append(button.sizeHint().width())
        button.setText(text)
        button.setMinimumWidth(max(widths))

    def show_live(self, result, stats) -> None:
        self.live_rate.setText(f"Analysis rate: {stats.rate:.1f}/s · {stats.dropped:,} frames skipped · "
                               f"latency {result.latency_s * 1000:.0f} ms")

    def _slid(self, value: int) -> None:
        if not self._updating:
            self.seek_requested.emit(value)

