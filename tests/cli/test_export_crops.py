"""`sightline export --crops DIR`: accepted and relabelled detections cut out into class folders
(final labels), with a margin and an optional mask cut-out, ready to train a classifier on."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.images import load_image
from engine.review import ACCEPTED, REJECTED, RELABELLED, Decision
from engine.store import ReviewStore
from engine.train.dataset import scan_dataset
from engine.types import CroppedMask, Detections

CLASSES = ("__background__", "circle", "square", "triangle")
BOXES = np.array([[4, 5, 14, 17], [20, 5, 30, 17], [36, 5, 46, 17]], np.float32)  # 10 wide, 12 high


def detections() -> Detections:
    masks = tuple(CroppedMask(int(x0), 5, np.tri(12, 10, dtype=bool)) for x0 in BOXES[:, 0])  # lower triangles
    return Detections((40, 60), BOXES.copy(), np.array([0.9, 0.8, 0.7], np.float32), np.array([1, 2, 3]),
                      CLASSES, masks, model_name="demo-shapes")


@pytest.fixture
def reviewed(tmp_path):
    """Two images, each: #1 accepted (circle), #2 relabelled square -> triangle, #3 rejected;
    a third image with no decisions."""
    photos = tmp_path / "photos"
    photos.mkdir()
    paths = [photos / name for name in ("a.png", "b.png", "c.png")]
    rng = np.random.default_rng(0)
    for path in paths:
        Image.fromarray(rng.integers(60, 250, size=(40, 60, 3), dtype=np.uint8)).save(path)
    store = ReviewStore(tmp_path / "review.sqlite3")
    for path in paths[:2]:
        result = store.save_result(path, "demo-shapes", detections())
        store.set_decision(result, 0, Decision(ACCEPTED))
        store.set_decision(result, 1, Decision(RELABELLED, 3))
        store.set_decision(result, 2, Decision(REJECTED))
    store.save_result(paths[2], "demo-shapes", detections())
    store.close()
    return tmp_path, paths


def export(run_cli, root, out, *options):
    code, _, err = run_cli("export", root / "photos", "--crops", out, "--store", root / "review.sqlite3", *options)
    assert code == 0, err
    return err


def test_crops_go_to_their_final_class_and_train_directly(run_cli, reviewed):
    root, paths = reviewed
    out = root / "crops"
    err = export(run_cli, root, out, "--margin", "0")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "circle/a-001.png", "circle/b-001.png", "triangle/a-002.png", "triangle/b-002.png"]  # no rejected, no undecided
    crop = load_image(out / "triangle" / "a-002.png")
    assert crop.shape == (12, 10, 3) and np.array_equal(crop, load_image(paths[0])[5:17, 20:30])
    assert f"sightline train {out}" in err
    report = scan_dataset(out)  # the training wizard's data page reads the folder as it is
    assert report.class_names == ("circle", "triangle") and len(report.train) + len(report.val) == 4
    assert load_image(paths[0]).tobytes() == np.asarray(Image.open(paths[0])).tobytes()  # inputs untouched


def test_margin_and_mask_cut_out(run_cli, reviewed):
    root, paths = reviewed
    export(run_cli, root, root / "wide", "--margin", "0.25")
    wide = load_image(root / "wide" / "circle" / "a-001.png")
    assert np.array_equal(wide, load_image(paths[0])[2:20, 1:17])  # 3 px above and below, 2.5 (3) either side
    export(run_cli, root, root / "cut", "--margin", "0", "--cut-out")
    cut = load_image(root / "cut" / "circle" / "a-001.png")
    inside = np.tri(12, 10, dtype=bool)
    assert not cut[~inside].any() and np.array_equal(cut[inside], load_image(paths[0])[5:17, 4:14][inside])


def test_crops_refuse_a_bad_margin(reviewed, capsys):
    from engine import cli

    root, _ = reviewed
    with pytest.raises(SystemExit) as caught:
        cli.main(["export", str(root / "photos"), "--crops", str(root / "x"), "--margin", "3"])
    assert caught.value.code == 2 and "3 is not between 0 and 2" in capsys.readouterr().err
    assert not (root / "x").exists()
