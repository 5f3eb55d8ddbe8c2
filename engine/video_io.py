"""Reading video files with OpenCV: probe, random access for scrubbing, strided iteration, and a
decode-ahead thread with a bounded queue.

Frames come out as (H, W, 3) uint8 RGB, like `images.load_image`. A file that cannot be used
raises `VideoError`, whose text names the file and says why in words a user can act on (not a
video, truncated, no frames, a codec this OpenCV cannot decode). A file that stops early (a
truncated AVI, say) still gives every frame that can be read, and the reader records a warning.

One `VideoReader` belongs to one thread at a time; a player and an analysis each open their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import queue
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, TypeVar

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own chatter; we explain failures ourselves

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SEEK_FORWARD_LIMIT = 24  # reading ahead up to this many frames is cheaper than a seek


class VideoError(Exception):
    """A video file that cannot be used; str() names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. `frame_count` may be an estimate (0: unknown);
    a reader that meets the real end earlier lowers its own `frame_count`."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    codec: str  # FourCC, e.g. "FMP4", "MJPG", "h264"

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0

    def time_of(self, frame_index: int) -> float:
        """Seconds from the start to `frame_index` (constant frame rate)."""
        return frame_index / self.fps if self.fps else 0.0

    def frame_at(self, seconds: float) -> int:
        """The first frame shown at or after `seconds`."""
        return max(0, int(np.ceil(seconds * self.fps - 1e-6)))


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV logs its own errors on stderr while we turn them into a VideoError."""
    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def fourcc_text(code: float) -> str:
    value = int(code) if code and code > 0 else 0
    text = "".join(chr((value >> 8 * i) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""


def _mp4_atoms(handle, size: int) -> tuple[dict[bytes, tuple[int, int]], bool]:
    """Top-level ISO-BMFF atoms {type: (offset, length)}, and whether the last runs past the end."""
    atoms: dict[bytes, tuple[int, int]] = {}
    offset = 0
    while offset + 8 <= size and len(atoms) < 1000:
        handle.seek(offset)
        length, kind = struct.unpack(">I4s", handle.read(8))
        if length == 1:
            length = struct.unpack(">Q", handle.read(8))[0]
        elif length == 0:
            length = size - offset
        if length < 8:
            return atoms, True
        atoms.setdefault(kind, (offset, length))
        offset += length
    return atoms, offset > size


def _mp4_diagnosis(handle, size: int) -> str:
    atoms, runs_past_end = _mp4_atoms(handle, size)
    if b"moov" not in atoms:
        return "the video is incomplete or truncated (its index, the 'moov' atom, is missing); it cannot be played"
    offset, length = atoms[b"moov"]
    handle.seek(offset)
    moov = handle.read(min(length, 64 * 2**20))
    video = moov.find(b"hdlr\x00\x00\x00\x00\x00\x00\x00\x00vide")
    if video < 0:
        return "the file holds no video frames (it has no video track)"
    stsd = moov.find(b"stsd", video)
    codec = moov[stsd + 16 : stsd + 20].decode("latin-1").strip("\x00 ") if stsd >= 0 else ""
    if runs_past_end:
        return "the video is truncated and its frames cannot be decoded"
    named = f"'{codec}'" if codec and codec.isprintable() else "unknown"
    return f"the video's codec ({named}) cannot be decoded by this OpenCV build"


def _avi_codec(head: bytes) -> str:
    """The video stream's FourCC in an AVI header: strf's biCompression, else strh's handler."""
    codec = b""
    strf = head.find(b"strf")
    if strf >= 0 and len(head) >= strf + 28:
        codec = head[strf + 24 : strf + 28]  # chunk id, size, then BITMAPINFOHEADER.biCompression at 16
    strh = head.find(b"strh")
    if not codec.strip(b"\x00") and strh >= 0 and head[strh + 8 : strh + 12] == b"vids":
        codec = head[strh + 12 : strh + 16]
    text = codec.decode("latin-1").strip("\x00 ")
    return text if text.isprintable() else ""


def diagnose_unopenable(path: Path) -> str:
    """Why OpenCV could not open `path`, from a look at the container's first bytes."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(65536)
        if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
            return _mp4_diagnosis(handle, size)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        codec = _avi_codec(head)
        named = f"'{codec}'" if codec else "unknown"
        return f"the video's codec ({named}) cannot be decoded by this OpenCV build"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "the Matroska/WebM file cannot be read (damaged, or a codec this OpenCV build cannot decode)"
    return "not a video file, or a format OpenCV cannot read"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(path, "file not found")
    if path.is_dir():
        raise VideoError(path, "is a folder, not a video")
    if path.stat().st_size == 0:
        raise VideoError(path, "file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(path, "permission denied")


class VideoReader:
    """Random and sequential access to the frames of one video file.

    `read(i)` suits scrubbing (sequential reads stay cheap, short jumps forward decode ahead,
    longer jumps seek); `frames(start, stop, stride)` suits analysis. `warnings` collects what
    went wrong without stopping, e.g. a file that ends before its header says it should.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        _check_file(self.path)
        with _quiet_opencv():
            self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            if not self._cap.isOpened():
                self._cap.release()
                raise VideoError(self.path, diagnose_unopenable(self.path))
            ok, first = self._cap.read()
        header_count = int(max(0, self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        codec = fourcc_text(self._cap.get(cv2.CAP_PROP_FOURCC))
        if not ok or first is None:
            self._cap.release()
            if header_count == 0:
                raise VideoError(self.path, "the file holds no video frames")
            named = f" ({codec})" if codec else ""
            raise VideoError(self.path, f"no frame could be decoded: the codec{named} is not supported here, or the file is damaged")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
            self.warnings = [f"{self.path}: the frame rate is missing; assuming 25 frames/s"]
        else:
            self.warnings = []
        height, width = first.shape[:2]
        self.info = VideoInfo(str(self.path), width, height, fps, header_count, codec)
        self._next = 1  # index of the frame the next cap.read() returns
        self._cached: Optional[tuple[int, np.ndarray]] = (0, first)  # the last frame read, BGR
        self._end: Optional[int] = None  # the real end, once met reading in order
        self._bound: Optional[int] = None  # a frame a seek could not reach: the end is at or before it
        self.short = False  # the file ended before the frame count in its header (truncated, damaged)
        self._lock = threading.Lock()  # one caller at a time, even if a front end slips

    # -- properties -------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        """Frames known to exist: the header's count, lowered to the real end once met."""
        if self._end is not None:
            return self._end
        if self._bound is not None:
            return min(self.info.frame_count, self._bound) if self.info.frame_count else self._bound
        return self.info.frame_count

    @property
    def fps(self) -> float:
        return self.info.fps

    def time_of(self, frame_index: int) -> float:
        return self.info.time_of(frame_index)

    # -- reading ----------------------------------------------------------------------------
    def _read_bgr(self, index: int) -> Optional[np.ndarray]:
        if index < 0 or (self._end is not None and index >= self._end):
            return None
        if self._bound is not None and index >= self._bound:
            return None
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        sought = False
        if not (0 <= self._next <= index <= self._next + SEEK_FORWARD_LIMIT):
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next, sought = index, True
        while self._next < index:
            if not self._cap.grab():
                self._met_end(self._next)
                return None
            self._next += 1
        ok, frame = self._cap.read()
        if not ok or frame is None:
            if sought:  # a seek past the real end says only that the end is at or before here
                self._bound = index if self._bound is None else min(self._bound, index)
                self._next, self._cached = -1, None
            else:
                self._met_end(index)
            return None
        self._next = index + 1
        self._cached = (index, frame)
        return frame

    def _met_end(self, index: int) -> None:
        """Reading in order stopped at `index`: that is the real number of frames."""
        first_time = self._end is None
        self._end = index if self._end is None else min(self._end, index)
        self._cached = None
        self._next = -1  # unknown position: the next read seeks
        expected = self.info.frame_count
        if first_time and expected and index < expected:
            self.short = True
            self.warnings.append(
                f"{self.path}: only {index} of {expected} frames could be read; the file may be truncated or damaged"
            )

    def read(self, index: int) -> Optional[np.ndarray]:
        """Frame `index` as RGB, or None where there is no such frame (past the real end)."""
        with self._lock:
            frame = self._read_bgr(index)
            return None if frame is None else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def frames(self, start: int = 0, stop: Optional[int] = None, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """(index, RGB frame) for start, start+stride, ... < stop (None: to the end), in order.

        Frames in between are decoded but not converted (`grab`); the iteration ends early, with
        a warning recorded, where the file ends before `stop`.
        """
        if stride < 1:
            raise ValueError("stride must be at least 1")
        index = max(0, start)
        while stop is None or index < stop:
            with self._lock:
                frame = self._read_bgr(index)
                if frame is None:
                    expected = self.info.frame_count
                    if self._end is None and expected and index < expected:
                        self.short = True
                        self.warnings.append(
                            f"{self.path}: frame {index} and later could not be read (the header says "
                            f"{expected} frames); the file may be truncated or damaged"
                        )
                    return
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                self._cached = None  # iteration does not need it; let it go
            yield index, rgb
            index += stride

    def count_frames(self) -> int:
        """The real number of frames, by decoding to the end (slow on long videos)."""
        with self._lock:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            count = 0
            while self._cap.grab():
                count += 1
            self._next, self._cached, self._bound = -1, None, None
            self._end = count
            return count

    def close(self) -> None:
        with self._lock:
            self._cap.release()
            self._cached = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, frame count and codec of a video; raises VideoError if unusable."""
    with VideoReader(path) as reader:
        return reader.info


_LIBC: Optional[ctypes.CDLL] = None
_TRIM_EVERY_S = 2.0
_last_trim = 0.0


def trim_heap(force: bool = False) -> None:
    """Hand freed heap memory back to the OS (glibc `malloc_trim`), at most every 2 s.

    Inference allocates differently sized buffers frame after frame; glibc keeps what is freed,
    so without this a long video's resident memory creeps up for a while before it levels off.
    A no-op where the C library has no malloc_trim.
    """
    global _LIBC, _last_trim
    now = time.monotonic()
    if not force and now - _last_trim < _TRIM_EVERY_S:
        return
    _last_trim = now
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except OSError:
            _LIBC = False  # type: ignore[assignment]
    trim = getattr(_LIBC, "malloc_trim", None) if _LIBC else None
    if trim is not None:
        trim(0)


T = TypeVar("T")
_END = object()


class Prefetcher(Iterator[T]):
    """Runs `iterable` on its own thread, at most `maxsize` items ahead of the consumer.

    Used for decode-ahead: the thread decodes while the consumer runs the model. Errors raised by
    the iterable are re-raised in the consumer. `close()` (or leaving a `with` block) stops the
    thread promptly even when it is blocked on a full queue.
    """

    def __init__(self, iterable: Iterable[T], maxsize: int = 4, name: str = "sightline-decode"):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, args=(iterable,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterable: Iterable[T]) -> None:
        try:
            for item in iterable:
                if not self._put(("item", item)):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(("error", exc))
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
            self._put(("end", _END))

    def __iter__(self) -> "Prefetcher[T]":
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "item":
            return value
        self._finished = True
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._finished = True
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
