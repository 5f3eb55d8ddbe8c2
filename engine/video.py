"""Video in Sightline: frame reading, strided analysis, live analysis, annotated-video writing.

One import for front ends; the work lives in four small modules:

- `video_io`: `VideoReader` (probe, `read(i)` for scrubbing, `frames(start, stop, stride)`),
  `probe_video`, `VideoError`, `Prefetcher` (decode ahead on a thread, bounded queue).
- `video_analysis`: `VideoAnalysis` / `analyse_video` (per-frame `FrameResult`s, Progress,
  CancelToken, batches on CUDA), `frame_span`, `choose_batch_size`.
- `video_live`: `LiveAnalyzer` (newest frame wins, one worker, dropped frames counted, rate).
- `video_export`: `write_annotated_video` (held results, codec fallback, re-open check),
  `frame_items` / `write_video_coco` / `write_video_csv`, `HeldResults`.
"""

from engine.video_analysis import (  # noqa: F401
    BATCH_CANDIDATES,
    FrameResult,
    FrameSpan,
    VideoAnalysis,
    analyse_video,
    choose_batch_size,
    frame_span,
)
from engine.video_export import (  # noqa: F401
    HeldResults,
    VideoWriteError,
    VideoWriteReport,
    codec_plan,
    frame_items,
    write_annotated_video,
    write_video_coco,
    write_video_csv,
)
from engine.video_io import Prefetcher, VideoError, VideoInfo, VideoReader, probe_video  # noqa: F401
from engine.video_live import LiveAnalyzer, LiveResult, LiveStats  # noqa: F401
