"""`sightline train-segmenter` and `sightline segment` from the shell."""

import json

import cv2
import numpy as np
import pytest

from engine.demo.scenes_coco import write_scene_folder
from engine.demo.shapes_video import write_shapes_video
from engine.segment.model_file import load_segmenter_file

TINY = ["--epochs", "1", "--image-size", "64", "--batch-size", "2", "--base-channels", "4", "--threads", "1",
        "--crops-per-epoch", "4"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_cli):
    """A folder of 3 demo scenes with annotations.json, and a model trained on it by the command."""
    folder = tmp_path_factory.mktemp("scenes")
    write_scene_folder(folder, 7_100_000, 3)
    model = folder / "models" / "seg.pt"
    code, out, err = run_cli("train-segmenter", folder, *TINY, "--out", model)
    assert code == 0, err
    return folder, model, out, err


def test_train_segmenter_writes_one_model_file(trained):
    _, model, out, err = trained
    loaded = load_segmenter_file(model)
    assert loaded.class_names == ("background", "circle", "square", "triangle")
    assert loaded.input_size == 64 and len(loaded.metrics["history"]) == 1
    assert "3 images, 3 classes" in out and f"model written to {model}" in out
    assert f"background bias {loaded.background_bias:+.2f} (chosen on the validation images" in out
    assert "epoch   1/1" in err and "val mIoU" in err


def test_train_segmenter_without_annotations_says_what_to_do(run_cli, tmp_path):
    code, _, err = run_cli("train-segmenter", tmp_path, *TINY)
    assert code == 2 and "no COCO annotations file found" in err and "--from-review" in err


def test_segment_writes_class_maps_at_original_size(trained, run_cli, tmp_path):
    folder, model, _, _ = trained
    images = sorted(folder.glob("scene-*.png"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    out = tmp_path / "out"
    code, _, err = run_cli("segment", *images, broken, "--model", model, "--out", out)
    assert code == 1 and f"failed: {broken}" in err  # named, and the others still done
    assert json.loads((out / "classes.json").read_text()) == ["background", "circle", "square", "triangle"]
    for image in images:
        classes = cv2.imread(str(out / f"{image.stem}.png"), cv2.IMREAD_UNCHANGED)
        assert classes.dtype == np.uint8 and classes.shape == cv2.imread(str(image)).shape[:2]
        assert classes.max() <= 3


def test_segment_never_writes_over_an_input(trained, run_cli, tmp_path):
    folder, model, _, _ = trained
    image = tmp_path / "scene.png"
    image.write_bytes(next(folder.glob("scene-*.png")).read_bytes())
    before = image.read_bytes()
    code, _, _ = run_cli("segment", image, "--model", model, "--out", tmp_path)
    assert code == 0 and image.read_bytes() == before and (tmp_path / "scene-2.png").exists()


def test_segment_video_frames_and_overlay_video(trained, run_cli, tmp_path):
    _, model, _, _ = trained
    clip = tmp_path / "clip.mp4"
    write_shapes_video(clip, frames=9)
    out = tmp_path / "out"
    code, _, err = run_cli("segment", clip, "--model", model, "--out", out, "--stride", "4",
                           "--save-video", tmp_path / "overlay.mp4")
    assert code == 0, err
    assert sorted(p.name for p in (out / "clip").iterdir()) == ["000000.png", "000004.png", "000008.png"]
    assert "9 frames" in err and (tmp_path / "overlay.mp4").stat().st_size > 0


def test_segment_refuses_a_file_that_is_not_a_segmenter(run_cli, tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"garbage")
    code, _, err = run_cli("segment", tmp_path / "x.png", "--model", bogus, "--out", tmp_path / "o")
    assert code == 2 and "model.pt" in err


def test_train_segmenter_from_review_says_when_nothing_was_accepted(run_cli, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((20, 20, 3), np.uint8))
    code, _, err = run_cli("train-segmenter", tmp_path, "--from-review", *TINY)
    assert code == 2 and "no image or video frame here has accepted masks" in err
