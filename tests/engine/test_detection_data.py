"""Detector training data: COCO reading (paths, polygons, RLE, keypoints, bad entries), the
flip of torchvision's recipe, and widening a model's heads for a new class."""

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from engine.demo.model import build_demo_model
from engine.train.dataset import DatasetError
from engine.train.detection_batches import DetectionDataset, flip_permutation
from engine.train.detection_data import DetectionSample, Instance, load_coco, split
from engine.train.detection_model import resize_heads


def _png(path, width=40, height=30):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (10, 20, 30)).save(path)
    return path


@pytest.fixture
def coco(tmp_path):
    """A COCO file next to `imgs/a.png`, an absolute path to b.png elsewhere, one missing file,
    and annotations of every kind (polygon, compressed and uncompressed RLE, keypoints, crowd,
    zero area, unknown category)."""
    _png(tmp_path / "data" / "imgs" / "a.png")
    b = _png(tmp_path / "elsewhere" / "b.png")
    full = np.zeros((30, 40), np.uint8)
    full[5:15, 10:30] = 1
    compressed = mask_utils.encode(np.asfortranarray(full))
    compressed["counts"] = compressed["counts"].decode("ascii")
    document = {
        "images": [{"id": 1, "file_name": "imgs/a.png", "width": 40, "height": 30},
                   {"id": 2, "file_name": str(b), "width": 40, "height": 30},
                   {"id": 3, "file_name": "imgs/gone.png", "width": 40, "height": 30}],
        "categories": [{"id": 7, "name": "cat", "keypoints": ["left_ear", "right_ear", "nose"],
                        "skeleton": [[1, 3], [2, 3]]}, {"id": 9, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 5, 20, 10], "iscrowd": 0,
             "segmentation": [[10, 5, 30, 5, 30, 15, 10, 15]], "keypoints": [12, 6, 2, 28, 6, 1, 0, 0, 0]},
            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [10, 5, 20, 10], "segmentation": compressed},
            {"id": 3, "image_id": 2, "category_id": 9, "bbox": [0, 0, 4, 4],
             "segmentation": {"size": [30, 40], "counts": [0, 4, 26, 4, 26, 4, 26, 4, 1046]}},
            {"id": 4, "image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 5], "iscrowd": 1},
            {"id": 5, "image_id": 2, "category_id": 7, "bbox": [3, 3, 0, 4]},
            {"id": 6, "image_id": 2, "category_id": 42, "bbox": [3, 3, 4, 4]},
        ]}
    path = tmp_path / "data" / "annotations.json"
    path.write_text(json.dumps(document))
    return path


def test_coco_file_names_masks_and_keypoints(coco):
    data = load_coco(coco)
    assert [s.path.name for s in data.samples] == ["a.png", "b.png"]
    a, b = data.samples
    assert data.class_names == ("cat", "dog")
    assert data.keypoint_names == ("left_ear", "right_ear", "nose") and data.skeleton == ((0, 2), (1, 2))
    polygon, rle = a.instances
    assert polygon.mask.area == rle.mask.area and abs(rle.mask.area - 200) <= 40
    np.testing.assert_array_equal(polygon.box, [10, 5, 30, 15])
    np.testing.assert_array_equal(polygon.keypoints[2], [0, 0, 0])
    assert polygon.keypoints[0, 2] == 2 and rle.keypoints is None
    assert b.instances[0].mask.area == 16  # the uncompressed RLE: a 4x4 square
    assert data.has_masks


def test_coco_problems_are_named_and_left_out(coco):
    problems = "\n".join(load_coco(coco).problems)
    assert "gone.png: file not found" in problems
    assert "annotation 4: crowd region" in problems
    assert "annotation 5: a box of 0x4 px" in problems
    assert "annotation 6: unknown category_id 42" in problems


def test_file_names_fall_back_to_the_folder(tmp_path):
    _png(tmp_path / "images" / "x.png")
    path = tmp_path / "labels" / "coco.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png"}], "annotations": [],
                                "categories": []}))
    data = load_coco(path, tmp_path / "images")
    assert data.samples[0].path == tmp_path / "images" / "x.png" and data.samples[0].size == (30, 40)
    with pytest.raises(DatasetError, match="x.png: file not found"):
        load_coco(path)


@pytest.mark.parametrize("text, message", [("{", "not a readable JSON file"), ("[]", "not a COCO instances file")])
def test_unreadable_coco_names_the_file(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DatasetError, match=f"bad.json: {message}"):
        load_coco(path)


def test_flip_swaps_left_and_right_keypoints():
    assert flip_permutation(("top", "right", "bottom", "left")) == [0, 3, 2, 1]
    assert flip_permutation(("nose", "left_eye", "right_eye")) == [0, 2, 1]


def test_flipped_target_mirrors_boxes_masks_and_keypoints():
    from engine.types import CroppedMask

    mask = np.zeros((10, 20), bool)
    mask[2:4, 1:5] = True
    points = np.array([[3, 2, 2], [4.5, 3, 2], [3, 3.5, 2], [1.5, 3, 2]], np.float32)  # top right bottom left
    sample = DetectionSample("x.png", (10, 20), (Instance(np.array([1, 2, 5, 4], np.float32), "a",
                                                          CroppedMask.from_full(mask), points),))
    dataset = DetectionDataset([sample], {"a": 1}, True, ("top", "right", "bottom", "left"))
    target = dataset.flipped(dataset.target(sample, (10, 20)), 20)
    assert target["boxes"].tolist() == [[15, 2, 19, 4]]
    assert target["masks"][0, 2:4, 15:19].all() and target["masks"].sum() == 8
    assert target["keypoints"][0, 1, 0] == 20 - 1.5  # the new right point is the old left one
    assert target["keypoints"][0, 3, 0] == 20 - 4.5


def test_split_is_seeded_and_keeps_both_sides():
    samples = [DetectionSample(f"{i}.png", (1, 1), ()) for i in range(10)]
    train, val = split(samples, 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8 and set(train).isdisjoint(val)
    assert split(samples, 0.2, seed=3) == (train, val)
    assert [len(x) for x in split(samples[:2], 0.01)] == [1, 1]
    with pytest.raises(ValueError, match="validation fraction"):
        split(samples, 1.0)


def test_widened_heads_keep_the_known_rows():
    torch.manual_seed(0)
    model = build_demo_model()
    heads = model.roi_heads
    old_cls, old_box = heads.box_predictor.cls_score.weight.clone(), heads.box_predictor.bbox_pred.weight.clone()
    old_mask, old_kp = heads.mask_predictor.mask_fcn_logits.weight.clone(), heads.keypoint_predictor.kps_score_lowres.weight.clone()
    resize_heads(model, 5, [0, 1, 2, 3, None])
    assert heads.box_predictor.cls_score.out_features == 5 and heads.box_predictor.bbox_pred.out_features == 20
    assert torch.equal(heads.box_predictor.cls_score.weight[:4], old_cls)
    assert torch.equal(heads.box_predictor.bbox_pred.weight[:16], old_box)
    assert torch.equal(heads.mask_predictor.mask_fcn_logits.weight[:4], old_mask)
    assert torch.equal(heads.keypoint_predictor.kps_score_lowres.weight[:, :4], old_kp)
    assert heads.keypoint_predictor.kps_score_lowres.weight.shape[1] == 5
    model.eval()
    out = model([torch.rand(3, 64, 64)])[0]
    assert out["keypoints"].shape[1:] == (5, 3)
