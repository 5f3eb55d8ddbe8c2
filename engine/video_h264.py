"""Writing H.264 video through PyAV (FFmpeg's libx264), the codec browsers and most players
play. `H264Writer` has the three methods of `cv2.VideoWriter` that `engine.video_export`
uses (isOpened, write a BGR frame, release); when PyAV or its H.264 encoder is missing it is
simply not opened and says why, and the export falls back to OpenCV's codecs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

CODEC = "h264"  # the name in codec plans and reports
ENCODERS = ("libx264", "h264")  # FFmpeg encoder names tried, in order
OPTIONS = {"crf": "20", "preset": "veryfast"}  # near visually lossless for overlays, fast to write


def _even(frame: np.ndarray) -> np.ndarray:
    """4:2:0 chroma needs even sides: repeat the last row or column when one is odd."""
    pad_rows, pad_cols = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_rows or pad_cols:
        frame = np.pad(frame, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge")
    return frame


class H264Writer:
    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self.reason, self._container, self._stream = "", None, None
        try:
            import av
        except ImportError as exc:
            self.reason = f"PyAV is not installed ({exc})"
            return
        encoder = next((name for name in ENCODERS if _has_encoder(av, name)), None)
        if encoder is None:
            self.reason = f"this FFmpeg (PyAV {av.__version__}) has no H.264 encoder"
            return
        try:
            self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
            stream = self._container.add_stream(encoder, rate=Fraction(fps).limit_denominator(100_000))
            stream.width, stream.height = size[0] + size[0] % 2, size[1] + size[1] % 2
            stream.pix_fmt = "yuv420p"
            stream.options = dict(OPTIONS)
            self._stream = stream
        except (av.FFmpegError, ValueError, OSError) as exc:
            self.reason = f"PyAV could not start {encoder}: {exc}"
            self.release()

    def isOpened(self) -> bool:  # cv2.VideoWriter's name
        return self._stream is not None

    def write(self, bgr: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_even(bgr)), format="bgr24")
        self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        if self._container is None:
            return
        try:
            if self._stream is not None:
                self._container.mux(self._stream.encode(None))  # flush the frames the encoder holds
        finally:
            self._container.close()
            self._container, self._stream = None, None


def _has_encoder(av, name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - UnknownCodecError, or an FFmpeg without it
        return False
    return True
