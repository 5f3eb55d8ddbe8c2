"""Detection on a Ray cluster (the optional `cluster` extra: `pip install sightline[cluster]`).

Ray Data batch inference: the image paths become a Ray Dataset; a pool of actors, each
holding one Detector (one model load per actor; one actor per GPU, or a fraction of one,
or CPU actors where there are no GPUs), reads each image where it runs and returns its
detections (filtered at the run's score), encoded compactly, plus an overlay PNG when asked.
Videos go as frame-range segments (`cluster_video`), one per dataset row, each analysed by
one actor. Results stream back to the client one image or video frame at a time as they
finish, so the client holds a few at a time, never the whole result set.

What runs where: the client lists the paths (and opens each video to plan its segments) and
writes the outputs; the workers read the images, the videos and the model weights, so both must be at the same paths on every worker node
(shared storage, or the same folders on each node), and Sightline with this extra must be
installed there.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import ray
import ray.data

from engine.cluster_video import Segment, SegmentEnd, vocabulary_json
from engine.types import CancelToken, Detections

CONNECT_TIMEOUT_S = 5.0
MODEL_UNAVAILABLE = "cannot load the model"  # in the failure of each image of a worker without it
RETRIES = 2  # a worker that dies is restarted, and its batch retried, this many times


class ClusterError(Exception):
    """The cluster cannot be reached or cannot run the job; str() says which and why."""


@dataclass(frozen=True)
class DetectSettings:
    """What every worker runs: the same options as a local `sightline detect`."""

    model: str
    device: str = "auto"
    size: Optional[int] = None
    batch_size: Optional[int] = None
    score: float = 0.5
    overlays: bool = False
    video_batch: Optional[int] = None  # frames per model call, as --video-batch in a local run


@dataclass(frozen=True)
class WorkerPlan:
    """How many detector actors, and what each one reserves."""

    workers: int
    gpus: float  # per worker; 0 for CPU workers
    cpus: float  # per worker

    def describe(self) -> str:
        each = f"{self.gpus:g} GPU" if self.gpus else f"{self.cpus:g} CPU"
        return f"{self.workers} worker{'s' if self.workers != 1 else ''}, {each} each"


@dataclass(frozen=True)
class ImageResult:
    """One image's outcome from a worker: detections, or a failure naming the reason."""

    path: str
    detections: Optional[Detections]
    failure: str = ""
    overlay: bytes = b""
    worker: str = ""
    frame_index: int = -1  # a video frame's index (path: the video), -1 for an image
    time_s: float = 0.0
    done_at: float = 0.0  # when the worker finished it (time.time() there)


def _check_reachable(address: str) -> None:
    """Fail in seconds, naming the address, where Ray would retry for a minute or more."""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        host, port = target, "10001" if address.startswith("ray://") else "6379"
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def connect(address: str) -> str:
    """Join the Ray cluster at `address` ("auto": the one started on this machine with
    `ray start`). Reuses a connection this process already has. Returns a description."""
    if not ray.is_initialized():
        if address != "auto":
            _check_reachable(address)
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return (f"{nodes} node{'s' if nodes != 1 else ''}, {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs")


def plan_workers(gpus_per_worker: Optional[float] = None, workers: Optional[int] = None) -> WorkerPlan:
    """One actor per GPU where the cluster has GPUs (or `gpus_per_worker` each); CPU actors
    otherwise, the CPUs shared between them (default one actor per 4 CPUs)."""
    resources = ray.cluster_resources()
    gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 0))
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if gpus else 0.0
    if gpus_per_worker < 0 or (workers is not None and workers < 1):
        raise ClusterError("--gpus-per-worker must be 0 or more and --workers 1 or more")
    if gpus_per_worker > 0:
        if gpus_per_worker > gpus:
            raise ClusterError(f"each worker asks for {gpus_per_worker:g} GPUs; the cluster has {gpus:g}")
        count = workers or max(1, int(gpus // gpus_per_worker))
        return WorkerPlan(count, gpus_per_worker, 1.0)
    if cpus < 1:
        raise ClusterError("the cluster has no CPUs free for workers")
    count = workers or max(1, int(cpus // 4))
    return WorkerPlan(count, 0.0, max(1.0, float(int(cpus // count))))


class DetectorWorker:
    """A Ray Data actor: loads the detector once, then turns batches of paths into results.

    Nothing raised here stops the run: an image that cannot be read, a model call that
    fails, or a model that cannot be loaded on this node becomes a failure naming the reason.
    """

    def __init__(self, settings: DetectSettings, threads: int = 1):
        import torch

        from engine.detect import Detector

        torch.set_num_threads(max(1, threads))
        self.settings = settings
        self.where = f"{socket.gethostname()} (pid {os.getpid()})"
        self.detector, self.error = None, ""
        try:
            self.detector = Detector(settings.model, device=settings.device, size=settings.size,
                                     batch_size=settings.batch_size)
        except Exception as exc:  # noqa: BLE001 - named on every image of this worker
            self.error = f"the worker on {self.where} {MODEL_UNAVAILABLE}: {exc}"

    def __call__(self, batch: dict) -> Iterator[dict]:
        """One output batch per image and per video frame, yielded as each is done, so each
        comes back to the client on its own (see `_configure_ray_data`)."""
        for path, start, stop, stride in zip(batch["path"], batch["start"], batch["stop"], batch["stride"]):
            if start < 0:
                yield _columns([dict(self._one(str(path)), done_at=time.time())])
            else:
                for row in self._segment(str(path), int(start), int(stop), int(stride)):
                    yield _columns([dict(row, done_at=time.time())])

    def _segment(self, path: str, start: int, stop: int, stride: int) -> Iterator[dict]:
        from engine.cluster_video import analyse_segment

        base = dict(_empty_row(path, self.where), start=start, stop=stop)
        if self.detector is None:
            yield dict(base, frame=-2, failure=self.error)
            return
        for row in analyse_segment(self.detector, path, start, stop, stride, self.settings.score,
                                   self.settings.video_batch):
            yield dict(base, **row)

    def _one(self, path: str) -> dict:
        from engine.draw import draw_detections, encode_png
        from engine.images import ImageLoadError, load_image
        from engine.review.codec import encode_detections

        row = dict(_empty_row(path, self.where), failure=self.error)
        if self.detector is None:
            return row
        try:
            image = load_image(path)
            det = self.detector.predict([image])[0]
        except ImageLoadError as exc:
            return dict(row, failure=exc.reason)
        except Exception as exc:  # noqa: BLE001 - the batch carries on
            return dict(row, failure=f"model error on {self.where}: {exc}")
        if det.failure:
            return dict(row, failure=det.failure)
        kept = det.filter(min_score=self.settings.score)
        overlay = encode_png(draw_detections(image, kept)) if self.settings.overlays else b""
        return dict(row, payload=encode_detections(kept), height=kept.image_size[0], width=kept.image_size[1],
                    seconds=kept.inference_seconds, vocabulary=vocabulary_json(kept), model=kept.model_name,
                    overlay=overlay)


def _empty_row(path: str, where: str) -> dict:
    return {"path": path, "failure": "", "payload": b"", "height": 0, "width": 0, "seconds": 0.0,
            "vocabulary": "", "model": "", "overlay": b"", "worker": where, "frame": -1, "time": 0.0,
            "start": -1, "stop": -1, "failed": 0, "done_at": 0.0}


def _columns(rows: list[dict]) -> dict:
    return {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}


def _result(row: dict) -> ImageResult:
    from engine.review.codec import decode_detections

    where = dict(worker=row["worker"], frame_index=int(row["frame"]), time_s=float(row["time"]),
                 done_at=float(row["done_at"]))
    if row["failure"]:
        return ImageResult(row["path"], None, row["failure"], **where)
    detections = decode_detections(row["payload"], (int(row["height"]), int(row["width"])),
                                   json.loads(row["vocabulary"]), model_name=row["model"],
                                   inference_seconds=float(row["seconds"]))
    return ImageResult(row["path"], detections, overlay=row["overlay"] or b"", **where)


def _configure_ray_data() -> None:
    """Ray Data reports each execution on the console; failures are ours to report. A map
    task's output is cut into blocks of at most `target_max_block_size` bytes, and a block goes
    back to the client only once it is cut: with the default (128 MiB) a task's results came
    back all at once, at its end. One byte makes every batch the worker yields (one image, one
    video frame) a block of its own, streamed back as soon as it is done."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.max_errored_blocks = -1  # a batch that fails for good is named, the rest goes on
    context.target_max_block_size = 1
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _worker_settings(settings: DetectSettings, plan: WorkerPlan) -> DetectSettings:
    """GPU workers run on the GPU Ray gave them; CPU workers on the CPU."""
    if plan.gpus:
        return settings if settings.device != "auto" else replace(settings, device="cuda")
    return replace(settings, device="cpu")


def _work_dataset(paths: Iterable[str], count: int, rows_per_block: int,
                  segments: Sequence[Segment]) -> "ray.data.Dataset":
    """The work as a Ray Dataset: images `rows_per_block` to a block, then one block per video
    segment (start -1: an image). An Arrow string column: about the bytes of the paths, no
    Python object per path."""
    import pyarrow as pa

    def table(column, starts, stops, strides):
        return pa.table({"path": column, "start": pa.array(starts, pa.int64()),
                         "stop": pa.array(stops, pa.int64()), "stride": pa.array(strides, pa.int64())})

    images = pa.array(paths, pa.string(), size=count)
    unset = pa.array(np.full(count, -1, np.int64))
    whole = table(images, unset, unset, unset)
    blocks = [whole.slice(start, rows_per_block) for start in range(0, count, rows_per_block)]
    blocks += [table(pa.array([os.path.abspath(s.video)], pa.string()), [s.start], [s.stop], [s.stride])
               for s in segments]
    return ray.data.from_arrow(blocks)


def detect_on_cluster(paths: Sequence, settings: DetectSettings, plan: WorkerPlan,
                      cancel: Optional[CancelToken] = None,
                      segments: Sequence[Segment] = ()) -> Iterator["ImageResult | SegmentEnd"]:
    """Results for `paths` and video `segments` in the order they finish, streamed from the
    cluster: an ImageResult per image and per analysed frame (path: the video), a SegmentEnd
    after a segment's last frame.

    An image or segment whose batch never came back (its worker died more than RETRIES times,
    or the task failed) is yielded last as a failure saying so. Stops early when `cancel` is
    set; closing the iterator stops the cluster work.
    """
    if not len(paths) and not segments:
        return
    _configure_ray_data()
    settings = _worker_settings(settings, plan)
    batch = settings.batch_size or (4 if plan.gpus else 1)
    def sent():  # absolute: workers run in other folders, maybe on other machines
        return (os.path.abspath(p) for p in paths)

    with warnings.catch_warnings():  # retries can only be given as (deprecated) extra remote arguments
        warnings.simplefilter("ignore")
        results = _work_dataset(sent(), len(paths), batch * 4, segments).map_batches(
            DetectorWorker, fn_constructor_kwargs={"settings": settings, "threads": int(plan.cpus)},
            batch_size=batch, batch_format="numpy", num_gpus=plan.gpus or None, num_cpus=plan.cpus,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=plan.workers),
            max_restarts=RETRIES, max_task_retries=RETRIES)
    yield from _sorted_back(results.iter_rows(), paths, sent(), segments, cancel)


def _sorted_back(rows, paths: Sequence, sent: Iterable[str], segments: Sequence[Segment],
                 cancel: Optional[CancelToken]) -> Iterator["ImageResult | SegmentEnd"]:
    """Each row as a result under the path as listed; what never came back, named last."""
    from engine.result_shards import hashes, path_hash

    keys = hashes(sent)
    order = np.argsort(keys)
    came_back = np.zeros(len(paths), bool)
    sent_segments = {(os.path.abspath(s.video), s.start, s.stop): s for s in segments}
    pending = dict(sent_segments)  # a retried task may send a segment's rows again
    for row in rows:
        if cancel is not None and cancel.cancelled:
            return
        if row["start"] >= 0:
            key = (row["path"], int(row["start"]), int(row["stop"]))
            if row["frame"] != -2:
                yield replace(_result(row), path=sent_segments[key].video)
            elif pending.pop(key, None):
                yield SegmentEnd(sent_segments[key], row["failure"], row["worker"], int(row["failed"]))
            continue
        index = int(order[np.searchsorted(keys, path_hash(row["path"]), sorter=order)])
        came_back[index] = True
        yield replace(_result(row), path=str(paths[index]))
    lost = f"no result came back: its worker died or its task failed (retried {RETRIES} times); rerun to try it again"
    for index in np.flatnonzero(~came_back):
        yield ImageResult(str(paths[index]), None, lost)
    for segment in pending.values():
        yield SegmentEnd(segment, lost)
