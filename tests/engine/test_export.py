"""Exports: RLE of cropped masks equals pycocotools' own; COCO files load and evaluate."""

import contextlib
import io
import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from engine.export import ExportItem, rle_encode, write_coco, write_csv, write_text_atomic
from engine.types import CroppedMask, Detections


def _random_mask(rng, height, width):
    mask = np.zeros((height, width), bool)
    y0, x0 = rng.integers(0, height - 5), rng.integers(0, width - 5)
    mask[y0 : y0 + rng.integers(1, 30), x0 : x0 + rng.integers(1, 30)] = rng.random() < 2
    mask &= rng.random((height, width)) < 0.8
    return mask


@pytest.mark.parametrize("seed", range(25))
def test_rle_of_a_cropped_mask_matches_pycocotools(seed):
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(10, 60)), int(rng.integers(10, 60))
    full = _random_mask(rng, height, width)
    if seed == 0:
        full[:] = True  # edge case: touches every border
    expected = mask_utils.encode(np.asfortranarray(full.astype(np.uint8)))
    ours = rle_encode(CroppedMask.from_full(full), height, width)
    assert ours["counts"] == expected["counts"].decode("ascii")
    assert np.array_equal(mask_utils.decode(ours).astype(bool), full)


def _detections(height=48, width=64):
    full = np.zeros((height, width), bool)
    full[10:20, 5:25] = True
    keypoints = np.array([[[15, 10, 3.0], [24, 15, -1.0]]], np.float32)
    return Detections(
        image_size=(height, width), boxes=np.array([[5, 10, 25, 20]], np.float32),
        scores=np.array([0.9], np.float32), labels=np.array([1]), class_names=("__background__", "shape"),
        masks=(CroppedMask.from_full(full),), keypoints=keypoints, keypoint_names=("a", "b"), skeleton=((0, 1),),
    )


def test_coco_file_loads_and_evaluates_against_itself(tmp_path):
    det = _detections()
    path = write_coco(tmp_path / "out.json", [ExportItem("folder/img.png", det, annotation_extras=[{"review": "accepted"}])])
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert ann["bbox"] == [5.0, 10.0, 20.0, 10.0] and ann["area"] == 200 and ann["review"] == "accepted"
    assert ann["keypoints"] == [15.0, 10.0, 2, 0, 0, 0] and ann["num_keypoints"] == 1
    assert coco.loadImgs(1)[0] == {"id": 1, "file_name": "folder/img.png", "width": 64, "height": 48}
    category = coco.loadCats(1)[0]
    assert category["name"] == "shape" and category["skeleton"] == [[1, 2]] and category["keypoints"] == ["a", "b"]
    results = coco.loadRes(json.loads(path.read_text())["annotations"])
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, results, "segm")
        evaluation.evaluate(); evaluation.accumulate(); evaluation.summarize()
    assert evaluation.stats[1] == pytest.approx(1.0)


def test_csv_has_one_row_per_detection(tmp_path):
    det = _detections()
    text = write_csv(tmp_path / "out.csv", [ExportItem("a.png", det), ExportItem("b.png", det)]).read_text()
    lines = text.strip().splitlines()
    assert lines[0].startswith("file,detection,class,score,x1,y1,x2,y2,mask_area")
    assert len(lines) == 3 and lines[1].startswith("a.png,0,shape,0.9000,5.0,10.0,25.0,20.0,200,1")


def test_atomic_write_never_leaves_a_half_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old, complete")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", crash)
    with pytest.raises(OSError):
        write_text_atomic(target, "new")
    assert target.read_text() == "old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_exported_files_get_the_usual_permissions(tmp_path):
    path = write_text_atomic(tmp_path / "shared.json", "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
