"""No junk: a weights import into a folder that cannot take it says so and leaves nothing,
and the temporary files of killed runs are removed by the next run that writes there."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from engine import cli, models
from engine import weights as W
from engine.demo.shapes_video import write_shapes_video
from engine.leftovers import STALE_SECONDS
from engine.video import write_annotated_video
from engine.types import Detections

FAST_MODEL = "fasterrcnn_mobilenet_v3_large_fpn"


def _aged(path: Path, content: bytes = b"half a file") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old = time.time() - STALE_SECONDS - 60
    os.utime(path, (old, old))
    return path


@pytest.mark.parametrize("where", ["unwritable", "a file"])
def test_import_into_an_unusable_torch_home_says_where_and_leaves_nothing(mobilenet_state_file, tmp_path,
                                                                          monkeypatch, capsys, where):
    home = Path("/sys/sightline-torch-home") if where == "unwritable" else tmp_path / "torch-home"
    if where == "a file":
        home.write_text("not a folder")
    monkeypatch.setenv("TORCH_HOME", str(home))
    code = cli.main(["models", "import", str(mobilenet_state_file)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert str(home / "hub" / "checkpoints") in err and "TORCH_HOME" in err


def test_a_copy_that_fails_half_way_leaves_no_importing_file(mobilenet_state_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def disk_fills_up(source, target):
        Path(target).write_bytes(Path(source).read_bytes()[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(W.shutil, "copyfile", disk_fills_up)
    with pytest.raises(W.WeightsError, match="the disk is full"):
        models.import_weights(mobilenet_state_file)
    assert list((tmp_path / "torch-home").rglob("*")) == [tmp_path / "torch-home" / "hub",
                                                          tmp_path / "torch-home" / "hub" / "checkpoints"]


def test_the_next_import_removes_a_stale_importing_file(mobilenet_state_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    checkpoints = W.hub_checkpoint_dir()
    stale = _aged(checkpoints / "maskrcnn_resnet50_fpn-bf2d0c1e.pth.importing")
    fresh = checkpoints / "other.pth.importing"  # another import, writing right now
    fresh.write_bytes(b"in progress")
    name, path = models.import_weights(mobilenet_state_file)
    assert path.is_file() and not stale.exists() and fresh.exists()


def test_the_next_annotated_video_removes_a_killed_runs_partial_file(tmp_path):
    source = tmp_path / "clip.avi"
    write_shapes_video(source, frames=4, fps=10.0, fourcc="MJPG")
    out = tmp_path / "out" / "ann.avi"
    stale = _aged(out.parent / ".ann.k1ll3d.partial.avi")
    other = _aged(out.parent / ".other.k1ll3d.partial.avi")  # belongs to another output
    empty = Detections.empty((240, 320), ("__background__", "circle"))
    write_annotated_video(source, {0: empty}, out)
    assert out.is_file() and not stale.exists() and other.exists()
