"""`sightline explain`: the files it writes (names, .npy float32 at the image's size in 0..1,
.png overlays), one map per detection for a detector, and clear errors."""

import numpy as np
import pytest
from PIL import Image

from tests.engine.explain_helpers import demo_scene, save_colour_classifier, scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return save_colour_classifier(tmp_path_factory.mktemp("models"), input_size=64)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _peak(values):
    y, x = np.unravel_index(np.argmax(values), values.shape)
    return x, y


def test_classifier_maps_for_a_folder_with_bad_files(classifier, tmp_path, run_cli):
    photos = tmp_path / "photos"
    _save(photos / "wide.png", scene(60, 150, {"blue": (100, 10, 40)}))
    _save(photos / "sub" / "tall.png", scene(130, 50, {"red": (5, 80, 40)}))
    _save(photos / "other" / "wide.png", scene(40, 40, {"green": (0, 0, 30)}))
    (photos / "broken.png").write_bytes(b"not a png")
    (photos / "notes.txt").write_text("hello")
    before = sorted(p.name for p in photos.rglob("*"))
    out = tmp_path / "maps"
    code, stdout, err = run_cli("explain", photos, "--model", classifier, "--out", out)
    assert code == 1 and "broken.png" in err and "3 images explained, 3 maps written, 1 skipped" in err
    assert sorted(p.name for p in photos.rglob("*")) == before  # nothing written among the inputs
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}-gradcam.{ext}" for stem in ("tall", "wide", "wide-2") for ext in ("npy", "png"))
    written = dict((line.split("\t")[0], line.split("\t")[-1]) for line in stdout.splitlines())
    wide, tall = np.load(written[str(photos / "wide.png")]), np.load(written[str(photos / "sub" / "tall.png")])
    assert tall.shape == (130, 50) and tall.dtype == np.float32 and 0 <= tall.min() and tall.max() <= 1
    assert wide.shape == (60, 150) and _peak(wide)[0] >= 75  # the blue square is on the right
    assert Image.open(out / "tall-gradcam.png").size == (50, 130)
    assert "gradcam red" in stdout and "gradcam blue" in stdout


def test_a_chosen_class_and_other_methods(classifier, tmp_path, run_cli):
    image = _save(tmp_path / "two.png", scene(80, 120, {"red": (5, 5, 30), "blue": (80, 45, 30)}))
    out = tmp_path / "out"
    for method, target in (("gradcam++", "red"), ("gradcam++", "blue"), ("occlusion", "blue")):
        code, stdout, _ = run_cli("explain", image, "--model", classifier, "--method", method, "--target", target,
                                  "--out", out / target)  # fmt: skip
        assert code == 0 and f"{method} {target}" in stdout
        values = np.load(out / target / f"two-{method}.npy")
        x, y = _peak(values)
        assert values.shape == (80, 120) and ((x < 60 and y < 40) if target == "red" else (x >= 60 and y >= 40))
    code, stdout, _ = run_cli("explain", image, "--model", classifier, "--method", "features", "--stage", "layer3",
                              "--top", "2", "--out", out)  # fmt: skip
    assert code == 0 and np.load(out / "two-features-layer3.npy").shape == (2, 80, 120)
    code, stdout, _ = run_cli("explain", "--model", classifier, "--method", "filters", "--out", out)
    assert code == 0 and np.load(out / "colours-filters.npy").shape == (64, 7, 7, 3)
    assert (out / "colours-filters.png").is_file()


def test_detector_one_occlusion_map_per_detection(tmp_path, run_cli):
    image, box = demo_scene()
    path = _save(tmp_path / "scene.png", image)
    out = tmp_path / "out"
    code, stdout, err = run_cli("explain", path, "--model", "demo-shapes", "--method", "occlusion", "--patch", "48",
                                "--stride", "48", "--device", "cpu", "--out", out)  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["scene-occlusion-1.npy", "scene-occlusion-1.png"]
    values = np.load(out / "scene-occlusion-1.npy")
    x, y = _peak(values)
    assert values.shape == image.shape[:2] and box[0] <= x < box[2] and box[1] <= y < box[3]
    assert "occlusion circle" in stdout
    code, stdout, _ = run_cli("explain", path, "--model", "demo-shapes", "--method", "occlusion", "--score", "0.999",
                              "--out", tmp_path / "none")  # fmt: skip
    assert code == 0 and "no detections at or above 0.999" in stdout and not (tmp_path / "none").exists()


def test_usage_and_model_errors_exit_2_with_a_message(classifier, tmp_path, run_cli):
    image = _save(tmp_path / "a.png", scene(40, 40, {"red": (5, 5, 10)}))
    cases = [
        (("--model", "demo-shapes", "--method", "gradcam"), "for a detector use occlusion"),
        (("--model", classifier, "--target", "purple"), "no class 'purple'"),
        (("--model", classifier, "--method", "features", "--stage", "fpn0"), "unknown stage fpn0"),
        (("--model", tmp_path / "missing.pt"), "missing.pt"),
        (("--model", classifier, "--opacity", "2"), "--opacity"),
    ]
    for options, message in cases:
        code, _, err = run_cli("explain", image, *options, "--out", tmp_path / "out")
        assert code == 2 and message in err and "Traceback" not in err
    code, _, err = run_cli("explain", tmp_path / "nothing-here", "--model", classifier, "--out", tmp_path / "out")
    assert code == 2 and "no images found" in err
