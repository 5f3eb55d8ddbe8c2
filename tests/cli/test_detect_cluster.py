"""`sightline detect --cluster` on a local 2-CPU Ray instance: the same detections as a local
run, a rerun after an interrupted run skips what is done, failures named. Skipped when Ray
(the `cluster` extra) is not installed."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import cluster as cluster_module
from engine import cluster_video
from engine.demo.scenes import make_scene
from engine.demo.shapes_video import write_shapes_video
from engine.result_shards import ResultShards

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    (folder / "more").mkdir()
    for i, seed in enumerate((31, 32, 33, 34)):
        where = folder / "more" if i == 3 else folder
        cv2.imwrite(str(where / f"scene{i}.png"), make_scene(seed).image[:, :, ::-1])
    good = (folder / "scene0.png").read_bytes()
    (folder / "cut.png").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def test_an_unreachable_address_is_named_and_exits_2(scenes, tmp_path, run_cli):
    assert not ray.is_initialized()
    code, _, err = run_cli("detect", scenes, "--cluster", "127.0.0.1:1", "--out", tmp_path / "r.json")
    assert code == 2 and "127.0.0.1:1" in err and "Traceback" not in err


def test_cluster_needs_an_output_and_a_known_model(scenes, tmp_path, run_cli):
    code, _, err = run_cli("detect", scenes, "--cluster", "auto")
    assert code == 2 and "--out" in err
    code, _, err = run_cli("detect", scenes, "--cluster", "auto", "--model", "no-such-model", "--out", tmp_path / "r.json")
    assert code == 2 and "unknown model 'no-such-model'" in err


def test_workers_without_the_weights_exit_2_naming_the_file(scenes, tmp_path, local_ray, run_cli):
    # the workers inherit this test run's empty TORCH_HOME: Mask R-CNN's weights are not there
    code, _, err = run_cli("detect", scenes, "--model", "maskrcnn_resnet50_fpn_v2", "--cluster", "auto",
                           "--out", tmp_path / "r.json")
    assert code == 2, err
    assert "cannot load the model" in err and "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth" in err
    assert not (tmp_path / "r.json").exists()


def _by_file(document: dict) -> dict:
    """Annotations by image (file name, and frame index for a video frame)."""
    names = {image["id"]: (Path(image["file_name"]).name, image.get("frame_index", -1)) for image in document["images"]}
    found = {name: [] for name in names.values()}
    for ann in document["annotations"]:
        found[names[ann["image_id"]]].append(ann)
    return found


def _assert_same_detections(local: dict, remote: dict) -> None:
    a, b = _by_file(local), _by_file(remote)
    assert sorted(a) == sorted(b)
    for name in a:
        assert len(a[name]) == len(b[name]), name
        for x, y in zip(sorted(a[name], key=lambda d: -d["score"]), sorted(b[name], key=lambda d: -d["score"])):
            assert x["category_id"] == y["category_id"], name
            assert np.abs(np.subtract(x["bbox"], y["bbox"])).max() <= 1.0, name
            assert abs(x["score"] - y["score"]) <= 1e-4, name
            assert x["segmentation"] == y["segmentation"] or abs(x["area"] - y["area"]) <= 0.02 * x["area"]


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found - {pid}


def _kill_a_busy_worker(killed: list, stop: threading.Event) -> None:
    """SIGKILL the first detector actor of this test's Ray instance seen running a batch."""
    while not killed and not stop.wait(0.05):
        for pid in _descendants(os.getpid()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"MapBatches(DetectorWorker)).submit" in title:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return


def test_interrupted_cluster_run_resumes_and_matches_a_local_run(scenes, tmp_path, local_ray, run_cli, monkeypatch):
    local_out = tmp_path / "local.json"
    code, _, err = run_cli("detect", scenes, "--model", "demo-shapes", "--device", "cpu", "--out", local_out)
    assert code == 1 and "cut.png" in err

    remote_out, overlays = tmp_path / "remote.json", tmp_path / "overlays"
    command = ("detect", scenes, "--model", "demo-shapes", "--cluster", "auto", "--out", remote_out,
               "--csv", tmp_path / "remote.csv", "--overlays", overlays)
    real_add, added = ResultShards.add, []

    def add_then_interrupt(self, path, detections):  # Ctrl-C after the second finished image
        real_add(self, path, detections)
        added.append(path)
        if len(added) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ResultShards, "add", add_then_interrupt)
    code, _, err = run_cli(*command)
    assert code == 130 and "run the same command again" in err
    assert not remote_out.exists()
    monkeypatch.setattr(ResultShards, "add", real_add)

    killed, stop = [], threading.Event()  # and a worker dies: it is restarted, its batch done again
    threading.Thread(target=_kill_a_busy_worker, args=(killed, stop), daemon=True).start()
    try:
        code, _, err = run_cli(*command)
    finally:
        stop.set()
    assert killed, "no worker was seen running a batch"
    assert code == 1, err
    assert "2 images done before" in err and "3 to go" in err  # two scenes and the broken file
    assert ", 1 failed" in err  # only the broken file: the killed worker's images were done again
    assert "cut.png" in next(l for l in err.splitlines() if "failed:" in l)
    kept = [json.loads(l)["path"] for part in (tmp_path / "remote.json.parts").glob("part-*.jsonl")
            for l in part.read_text().splitlines()]
    assert sorted(kept) == sorted(str(p) for p in scenes.rglob("scene*.png"))  # each image computed once
    local, remote = json.loads(local_out.read_text()), json.loads(remote_out.read_text())
    _assert_same_detections(local, remote)
    assert [i["file_name"] for i in remote["images"]] == [i["file_name"] for i in local["images"]]
    assert remote["categories"] == local["categories"]
    assert sorted(p.name for p in overlays.iterdir()) == ["scene0.png", "scene1.png", "scene2.png", "scene3.png"]
    rows = (tmp_path / "remote.csv").read_text().splitlines()
    assert len(rows) == 1 + len(remote["annotations"])


def test_workers_are_planned_from_the_cluster_resources(local_ray):
    from engine.cluster import ClusterError, plan_workers

    assert plan_workers() == plan_workers(0, None)
    assert (plan_workers().workers, plan_workers().cpus) == (1, 2.0)  # 2 CPUs: one worker with both
    assert (plan_workers(workers=2).workers, plan_workers(workers=2).cpus) == (2, 1.0)
    with pytest.raises(ClusterError, match="the cluster has 0"):
        plan_workers(gpus_per_worker=1)


def _frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def test_a_video_goes_to_the_cluster_in_segments_that_stream_back_and_resume(tmp_path, local_ray, run_cli,
                                                                             monkeypatch):
    clip = tmp_path / "clip.mp4"
    write_shapes_video(clip, frames=30)  # 25 frames/s: --start 0.1 is frame 3; stride 2: frames 3, 5, ..., 29
    options = ("--model", "demo-shapes", "--stride", "2", "--start", "0.1", "--video-batch", "1")
    code, _, err = run_cli("detect", clip, *options, "--device", "cpu", "--out", tmp_path / "local.json",
                           "--csv", tmp_path / "local.csv", "--save-video", tmp_path / "local.mp4")
    assert code == 0, err

    monkeypatch.setattr(cluster_video, "SEGMENT_FRAMES", 4)  # 14 frames: segments of 4, 4, 4 and 2 frames
    remote_out = tmp_path / "remote.json"
    command = ("detect", clip, *options, "--cluster", "auto", "--out", remote_out, "--csv", tmp_path / "remote.csv",
               "--save-video", tmp_path / "remote.mp4")
    real_result, real_mark, arrivals, marks = cluster_module._result, ResultShards.mark, {}, []

    def note_arrival(row):  # on the client, as each row comes back
        result = real_result(row)
        arrivals.setdefault(result.frame_index, (time.time(), result.done_at))
        return result

    def mark_then_interrupt(self, key):  # Ctrl-C once the second segment is kept
        real_mark(self, key)
        marks.append(key)
        if len(marks) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cluster_module, "_result", note_arrival)
    monkeypatch.setattr(ResultShards, "mark", mark_then_interrupt)
    code, _, err = run_cli(*command)
    assert code == 130 and "run the same command again" in err, err
    assert not remote_out.exists()
    # frames stream back one by one: the client gets the segment's rows as far apart as the
    # worker finished them (a segment sent whole arrives as one burst, its rows milliseconds
    # apart, however long the worker took between its first frame (3) and its last (9))
    assert {3, 5, 7, 9} <= set(arrivals)
    (arrived_3, done_3), (arrived_9, done_9) = arrivals[3], arrivals[9]
    assert done_9 - done_3 > 0.02, arrivals
    assert arrived_9 - arrived_3 > (done_9 - done_3) / 3, arrivals
    monkeypatch.setattr(cluster_module, "_result", real_result)
    monkeypatch.setattr(ResultShards, "mark", real_mark)

    code, _, err = run_cli(*command)
    assert code == 0, err
    assert "2 of 4 video segments done before, 2 to go" in err
    kept = [json.loads(l)["path"] for part in (tmp_path / "remote.json.parts").glob("part-*.jsonl")
            for l in part.read_text().splitlines()]
    finished = [f"{clip}#frame={i}" for i in range(3, 19, 2)]  # the two segments kept before the interruption
    assert all(kept.count(key) == 1 for key in finished), kept  # not computed again
    local, remote = json.loads((tmp_path / "local.json").read_text()), json.loads(remote_out.read_text())
    frames = [(i["file_name"], i["frame_index"], i["time_s"]) for i in local["images"]]
    assert [(i["file_name"], i["frame_index"], i["time_s"]) for i in remote["images"]] == frames
    assert [f[1] for f in frames] == list(range(3, 30, 2))
    _assert_same_detections(local, remote)
    assert remote["categories"] == local["categories"]
    rows = (tmp_path / "remote.csv").read_text().splitlines()
    assert len(rows) == len((tmp_path / "local.csv").read_text().splitlines()) == 1 + len(remote["annotations"])
    assert _frame_count(tmp_path / "remote.mp4") == _frame_count(tmp_path / "local.mp4") == 27  # frames 3 to 29
