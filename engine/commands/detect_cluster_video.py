"""Videos in `sightline detect --cluster`: planned on the client, analysed in segments by the
workers, merged in frame order into COCO/CSV, and (`--save-video`) drawn on the client.

The same frames, entries and annotated video as a local run: each analysed frame is one COCO
image entry (file_name the video, plus frame_index and time_s) and CSV rows under the video's
name, after the images, videos in the order they are listed. `--save-video` is written on the
client from the merged results (it reads the video, which the client has opened to plan it),
only for a video whose segments are all finished.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

from engine import console
from engine.cluster_video import VideoPlan, plan_video
from engine.export import ExportItem
from engine.result_shards import ResultShards
from engine.types import ImageFailure


def plan_videos(videos: list[Path], args, summary) -> list[VideoPlan]:
    """Each video's segments; a video that cannot be opened here, or whose range holds no
    frame, is named as failed (as a local run does) and left out."""
    from engine.commands.detect_video import report_unusable
    from engine.video import VideoError

    plans, seen = [], set()
    for path in videos:
        if os.path.abspath(path) in seen:
            continue
        seen.add(os.path.abspath(path))
        try:
            plans.append(plan_video(path, args.start, args.end, args.stride))
        except (VideoError, ValueError) as exc:
            report_unusable(path, exc, summary)
    return plans


def pending_segments(shards: ResultShards, plans: list[VideoPlan]) -> list:
    """The segments (in order) that have no kept marker."""
    segments = [segment for plan in plans for segment in plan.segments]
    left = set(shards.pending([segment.key for segment in segments]))
    return [segment for segment in segments if segment.key in left]


def frame_items(shards: ResultShards, plans: list[VideoPlan]) -> Iterator[ExportItem]:
    """Every kept frame of each video, in frame order, as a local run exports it."""
    for plan in plans:
        where = {key: (index, seconds) for key, index, seconds in plan.frame_keys()}
        for key, det in shards.merged(list(where)):
            index, seconds = where[key]
            yield ExportItem(plan.video, det, image_extras={"frame_index": index, "time_s": seconds})


def save_videos(shards: ResultShards, plans: list[VideoPlan], args, summary, several: bool) -> None:
    """`--save-video` for each video whose segments are all done, from the kept results; with
    `several` videos listed, one file per video named as a local run names them."""
    from engine.commands.detect_video import video_output_path
    from engine.video import VideoError, VideoWriteError, write_annotated_video

    used: set = set()
    for plan in plans:
        out = video_output_path(args.save_video, Path(plan.video), several, used)
        left = len(shards.pending([segment.key for segment in plan.segments]))
        if left:
            summary.failures.append(ImageFailure(str(out), f"annotated video not written: {left} segments of "
                                                 f"{plan.video} not finished; run the same command again"))
            continue
        held = {int(key.rsplit("=", 1)[1]): det for key, det in shards.merged([k for k, _, _ in plan.frame_keys()])}
        stop = min(max(held) + plan.stride, plan.stop) if held else plan.start
        bar = console.ProgressBar(stop - plan.start, f"writing {out.name}")
        try:
            report = write_annotated_video(plan.video, held, out, start_frame=plan.start, stop_frame=stop,
                                           progress=lambda p, bar=bar: bar.update(p.done))
        except (VideoError, VideoWriteError) as exc:
            console.error(str(exc))
            summary.failures.append(ImageFailure(str(out), f"annotated video not written: {exc}"))
            continue
        finally:
            bar.close()
        sys.stderr.write(report.message() + "\n")
