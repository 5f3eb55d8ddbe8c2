"""`sightline detect` end to end: sample scenes, a folder with broken files, COCO read back."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from engine.demo.evaluate import ground_truth_coco
from engine.demo.scenes import make_scene

SCENE_SEEDS = (21, 22, 23)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir()
    for i, seed in enumerate(SCENE_SEEDS):
        where = folder / "nested" if i == 2 else folder
        cv2.imwrite(str(where / f"scene{i}.png"), make_scene(seed).image[:, :, ::-1])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "letter.png").write_text("not a picture")
    good = (folder / "scene0.png").read_bytes()
    (folder / "cut.png").write_bytes(good[: len(good) // 3])
    (folder / "notes.txt").write_text("skip me")
    (folder / "table.csv").write_text("a,b")
    return folder



def test_folder_with_broken_files_carries_on_and_names_them(mixed_folder, tmp_path, run_cli):
    out_json, overlays = tmp_path / "results.json", tmp_path / "overlays"
    code, _, err = run_cli("detect", mixed_folder, "--model", "demo-shapes", "--device", "cpu",
                           "--out", out_json, "--overlays", overlays)
    assert code == 1, err
    assert "3 images done" in err and "2 skipped (not images)" in err and "3 failed" in err
    for name, reason in [("empty.jpg", "empty"), ("letter.png", "not an image"), ("cut.png", "truncated")]:
        line = next(l for l in err.splitlines() if name in l)
        assert reason in line, line
    assert "Traceback" not in err
    assert sorted(p.name for p in overlays.iterdir()) == ["scene0.png", "scene1.png", "scene2.png"]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out_json))
    names = sorted(Path(img["file_name"]).name for img in coco.dataset["images"])
    assert names == ["scene0.png", "scene1.png", "scene2.png"]
    assert [c["name"] for c in coco.dataset["categories"]] == ["circle", "square", "triangle"]
    assert coco.dataset["categories"][0]["keypoints"] == ["top", "right", "bottom", "left"]


def test_coco_output_evaluates_against_the_truth(tmp_path, run_cli):
    folder = tmp_path / "scenes"
    folder.mkdir()
    scenes = [make_scene(seed) for seed in SCENE_SEEDS]
    for i, scene in enumerate(scenes):
        cv2.imwrite(str(folder / f"scene-{i + 1}.png"), scene.image[:, :, ::-1])
    out_json = tmp_path / "results.json"
    code, _, err = run_cli("detect", folder, "--model", "demo-shapes", "--score", "0.05", "--out", out_json)
    assert code == 0, err
    document = json.loads(out_json.read_text())
    truth = ground_truth_coco(scenes)  # image ids 1..3 in the same (sorted) order
    assert [Path(i["file_name"]).name for i in document["images"]] == ["scene-1.png", "scene-2.png", "scene-3.png"]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(document["annotations"]), "bbox")
        evaluation.evaluate(); evaluation.accumulate(); evaluation.summarize()
    assert evaluation.stats[1] >= 0.8, f"box AP@0.5 on three scenes: {evaluation.stats[1]:.3f}"


def test_missing_weights_exit_2_with_the_folder_and_no_traceback(mixed_folder, tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    code, _, err = run_cli("detect", mixed_folder, "--model", "maskrcnn_resnet50_fpn_v2")
    assert code == 2
    assert "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth" in err and str(tmp_path / "empty-torch-home") in err


def test_usage_errors_exit_2(mixed_folder, tmp_path, run_cli):
    assert run_cli("detect", mixed_folder, "--model", "no-such-model")[0] == 2
    assert run_cli("detect", mixed_folder, "--score", "1.5")[0] == 2
    code, _, err = run_cli("detect", tmp_path / "nowhere")
    assert code == 2 and "no images" in err
    assert run_cli("detect", mixed_folder, "--device", "cuda:3")[0] == 2


def test_models_lists_every_model_with_its_status(run_cli):
    code, out, _ = run_cli("models")
    assert code == 0
    for name in ["maskrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn",
                 "fasterrcnn_mobilenet_v3_large_fpn", "persons", "demo-shapes"]:
        assert name in out
    demo_line = next(l for l in out.splitlines() if l.startswith("demo-shapes"))
    assert "bundled" in demo_line and "MB" in demo_line


def test_models_import_refuses_a_bad_file(tmp_path, run_cli):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nonsense")
    code, _, err = run_cli("models", "import", bad, "--model", "maskrcnn_resnet50_fpn")
    assert code == 2 and "bad.pth" in err


def test_bench_times_the_stock_torchvision_call_on_the_same_images(run_cli, monkeypatch):
    import torchvision.models.detection.transform as tv_transform

    from engine.commands.bench import BENCH_SEED_BASE

    pasted = []  # torchvision's own full-image mask pasting: only the stock call uses it
    real_paste = tv_transform.paste_masks_in_image
    monkeypatch.setattr(tv_transform, "paste_masks_in_image",
                        lambda masks, boxes, shape, *a: pasted.append(tuple(shape)) or real_paste(masks, boxes, shape, *a))
    code, out, _ = run_cli("bench", "--images", "2", "--repeats", "1", "--device", "cpu")
    assert code == 0
    for label in ["stock call", "predict", "overhead", "peak memory", "device"]:
        assert label in out
    sizes = [make_scene(BENCH_SEED_BASE + i).image.shape[:2] for i in range(2)]
    assert pasted == [sizes[0]] + sizes  # a warm-up, then each image once


def test_console_script_runs_without_traceback(tmp_path):
    script = Path(sys.executable).with_name("sightline")
    assert script.exists(), "the `sightline` console script is not installed"
    result = subprocess.run([str(script), "detect", str(tmp_path / "missing.png")], capture_output=True, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2 and "Traceback" not in result.stderr and "no images" in result.stderr
