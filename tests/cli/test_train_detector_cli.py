"""`sightline train-detector`: a COCO folder in, one model file out that `sightline models`
lists and `sightline detect --model FILE` runs; bad input is a message, not a traceback."""

import json

import pytest

from engine.demo.scene_folder import write_scene_folder
from engine.weights import user_models_dir


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_scene_folder(tmp_path_factory.mktemp("scenes"), [5_000_076, 5_000_224, 5_000_246])  # small, with crosses


@pytest.mark.slow
def test_trains_lists_and_detects(run_cli, scenes, one_torch_thread):
    out = user_models_dir() / "cli-cross.pt"
    code, stdout, stderr = run_cli("train-detector", scenes.parent, "--annotations", scenes, "--epochs", "1",
                                   "--batch-size", "2", "--val-fraction", "0.34", "--device", "cpu", "--out", out)
    assert code == 0, stderr
    assert "3 images" in stdout and "annotations used: boxes, masks, keypoints" in stdout
    assert "before: box AP50" in stdout and "after:  box AP50" in stdout and "new classes: cross" in stdout
    assert "epoch   1/1" in stderr and out.is_file()
    code, listing, _ = run_cli("models")
    assert code == 0 and "cli-cross" in listing and "trained" in listing
    result = scenes.parent / "found.json"
    code, _, stderr = run_cli("detect", scenes.parent, "--model", out, "--score", "0.05", "--device", "cpu",
                              "--out", result)
    assert code == 0, stderr
    categories = [c["name"] for c in json.loads(result.read_text())["categories"]]
    assert categories == ["circle", "square", "triangle", "cross"]


def test_missing_annotations_file_is_named(run_cli, tmp_path):
    code, _, stderr = run_cli("train-detector", tmp_path, "--annotations", tmp_path / "nope.json")
    assert code == 2 and "nope.json: file not found" in stderr and "Traceback" not in stderr


def test_from_review_without_reviews_says_so(run_cli, scenes):
    code, _, stderr = run_cli("train-detector", scenes.parent, "--from-review")
    assert code == 2 and "no reviewed images" in stderr


def test_unknown_base_is_a_usage_error(run_cli, scenes):
    code, _, stderr = run_cli("train-detector", scenes.parent, "--annotations", scenes, "--base", "nonesuch")
    assert code == 2 and "unknown model 'nonesuch'" in stderr
