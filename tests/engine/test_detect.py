"""Detector: results in original pixels, compact masks, re-filtering, out-of-memory handling,
and the bundled demo model finding the shapes where they are."""

import numpy as np
import pytest
import torch

from engine.demo.evaluate import EVAL_SEED_BASE, REGRESSION_SEED_BASE, evaluate_demo
from engine.demo.scenes import make_scene
from engine.detect import Detector, paste_mask
from engine.persons import merge_persons


@pytest.fixture(scope="module")
def demo():
    return Detector("demo-shapes", device="cpu")


def _best_iou(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0]); y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2]); y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return float((inter / union).max()) if len(boxes) else 0.0


def test_demo_finds_each_shape_where_it_is(demo):
    scene = make_scene(11)
    det = demo.predict([scene.image])[0].filter(min_score=0.5)
    assert det.image_size == scene.image.shape[:2]
    for shape in scene.shapes:
        same_class = det.select(det.labels == shape.label + 1)
        assert _best_iou(shape.box, same_class.boxes) >= 0.7, f"missed a {shape.label} at {shape.box}"


def test_a_score_floor_keeps_the_same_detections_and_spares_the_mask_head_the_rest():
    """`detect --score X` drops boxes under X before the per-box heads: what is kept is what
    filtering afterwards keeps, and the mask head sees only the kept boxes."""
    detector = Detector("demo-shapes", device="cpu")
    head_boxes = []
    detector._models[0].roi_heads.mask_head.register_forward_hook(
        lambda module, inputs, output: head_boxes.append(inputs[0].shape[0]))
    images = [make_scene(seed).image for seed in (21, 22)]
    everything = [d.filter(min_score=0.5) for d in detector.predict(images)]
    boxes_at_floor = sum(head_boxes)
    head_boxes.clear()
    detector.set_score_floor(0.5)
    floored = detector.predict(images)
    for whole, cut in zip(everything, floored):
        assert len(whole) > 0 and len(cut) == len(whole)
        np.testing.assert_allclose(cut.boxes, whole.boxes, atol=1e-3)
        np.testing.assert_allclose(cut.scores, whole.scores, atol=1e-5)
        assert (cut.labels == whole.labels).all()
        np.testing.assert_allclose(cut.keypoints, whole.keypoints, atol=1e-3)
        assert [m.area for m in cut.masks] == [m.area for m in whole.masks]
    assert sum(head_boxes) == sum(len(d) for d in floored) < boxes_at_floor


def test_masks_are_cropped_to_their_boxes(demo):
    det = demo.predict([make_scene(12).image])[0]
    assert len(det) > 0 and det.masks is not None
    for box, mask in zip(det.boxes, det.masks):
        h, w = mask.bitmap.shape
        assert mask.bitmap.dtype == bool
        assert w <= (box[2] - box[0]) * 1.1 + 3 and h <= (box[3] - box[1]) * 1.1 + 3


def test_results_are_kept_down_to_the_score_floor_for_refiltering(demo):
    det = demo.predict([make_scene(13).image])[0]
    assert det.scores.min() >= 0.05
    high = det.filter(min_score=0.5)
    assert len(high) <= len(det) and (high.scores >= 0.5).all()
    only_circles = det.filter(classes={"circle"})
    assert set(only_circles.names) <= {"circle"}


def test_a_smaller_inference_size_still_reports_original_pixels(demo):
    scene = make_scene(14)
    small = Detector("demo-shapes", device="cpu", size=360)
    det = small.predict([scene.image])[0].filter(min_score=0.5)
    big_shapes = [s for s in scene.shapes if (s.box[2] - s.box[0]) >= 40]
    assert big_shapes, "scene 14 should hold a large shape"
    for shape in big_shapes:
        assert _best_iou(shape.box, det.boxes) >= 0.5


def test_channels_last_on_the_cpu_finds_the_same_shapes(demo):
    image = make_scene(12).image
    assert demo.channels_last  # the CPU default: it measured faster (README, Speed)
    fast = demo.predict([image])[0].filter(min_score=0.5)
    demo.set_channels_last(False)
    try:
        plain = demo.predict([image])[0].filter(min_score=0.5)
    finally:
        demo.set_channels_last(True)
    assert len(fast) > 0 and fast.labels.tolist() == plain.labels.tolist()
    assert np.allclose(fast.boxes, plain.boxes, atol=0.5) and np.allclose(fast.scores, plain.scores, atol=1e-3)


def test_paste_mask_fills_its_box():
    mask = paste_mask(np.ones((28, 28), np.float32), np.array([10, 20, 50, 60], np.float32), 100, 100)
    assert abs(mask.x0 - 10) <= 2 and abs(mask.y0 - 20) <= 2
    assert 1500 <= mask.area <= 1900
    clipped = paste_mask(np.ones((28, 28), np.float32), np.array([90, 90, 130, 130], np.float32), 100, 100)
    assert clipped.to_full(100, 100)[95, 95] and clipped.bitmap.shape[0] <= 12


def _oom():
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def _backbone_sides(detector, fail_first: int):
    """Records the shorter side of every batch the backbone sees; the first `fail_first` calls
    run out of memory there, as a too-large image does on a GPU."""
    sides = []

    def hook(module, inputs):
        sides.append(min(inputs[0].shape[-2:]))
        if len(sides) <= fail_first:
            raise _oom()

    return sides, detector._models[0].backbone.register_forward_pre_hook(hook)


def test_out_of_memory_is_retried_once_smaller(demo):
    image = make_scene(15).image
    sides, handle = _backbone_sides(demo, fail_first=1)
    try:
        det = demo.predict([image])[0]
    finally:
        handle.remove()
    assert not det.failure and len(det) > 0
    first = min(image.shape[:2])  # the demo model runs at the image's own size
    assert len(sides) == 2 and sides[0] >= first and sides[1] <= 0.75 * first + 32  # (32: batch padding)
    assert demo._models[0].transform.native  # and the size is restored afterwards


@pytest.fixture(scope="module")
def coco_model():
    return Detector("maskrcnn_resnet50_fpn_v2", device="cpu", random_weights=True)


def test_a_large_photo_is_retried_below_the_models_own_size(coco_model):
    photo = np.zeros((3000, 4000, 3), np.uint8)  # a 12 MP photo; the model runs it at 800 px
    sides, handle = _backbone_sides(coco_model, fail_first=2)
    try:
        det = coco_model.predict([photo])[0]
    finally:
        handle.remove()
    # retried at 3/4 of the first attempt (600 px, padded to 608), not at 3/4 of the photo (2250)
    assert sides[0] == 800 and 600 <= sides[1] < 632 and len(sides) == 2
    assert "even at 600 px" in det.failure and det.image_size == (3000, 4000)
    assert coco_model._models[0].transform.min_size == (800,)  # the model's own size is back


def test_out_of_memory_twice_fails_that_image_only(demo, monkeypatch):
    scenes = [make_scene(s).image for s in (16, 17, 18)]
    real_run = Detector._run

    def second_image_never_fits(self, images):
        if any(im is scenes[1] for im in images):
            raise _oom()
        return real_run(self, images)

    monkeypatch.setattr(Detector, "_run", second_image_never_fits)
    demo.batch_size = 3
    try:
        results = demo.predict(scenes)
    finally:
        demo.batch_size = 1
    assert [bool(r.failure) for r in results] == [False, True, False]
    assert "out of memory on cpu" in results[1].failure and len(results[0]) > 0 and len(results[2]) > 0


def test_persons_join_masks_and_keypoints_by_box_overlap():
    masks_out = {
        "boxes": torch.tensor([[0, 0, 10, 20], [50, 50, 60, 70], [100, 0, 110, 10]], dtype=torch.float32),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
        "labels": torch.tensor([1, 1, 3]),  # the third is a car, not a person
        "masks": torch.rand(3, 1, 28, 28),
    }
    kp_out = {
        "boxes": torch.tensor([[51, 51, 61, 71], [200, 200, 210, 220]], dtype=torch.float32),
        "scores": torch.tensor([0.95, 0.6]),
        "labels": torch.tensor([1, 1]),
        "keypoints": torch.rand(2, 17, 3) * 10,
        "keypoints_scores": torch.full((2, 17), 5.0),
    }
    merged = merge_persons(masks_out, kp_out)
    assert merged["boxes"].tolist() == [[50, 50, 60, 70], [0, 0, 10, 20], [200, 200, 210, 220]]
    assert torch.equal(merged["masks"][0], masks_out["masks"][1])  # matched pair keeps its mask
    assert torch.equal(merged["keypoints"][0], kp_out["keypoints"][0])  # and its keypoints
    assert (merged["keypoints_scores"][1] < 0).all()  # mask-only person: no visible keypoints
    assert merged["masks"][2].sum() == 0  # keypoint-only person: empty mask
    assert merged["labels"].tolist() == [1, 1, 1]


@pytest.mark.slow
def test_demo_model_quality_on_fresh_scenes(demo):
    assert REGRESSION_SEED_BASE >= EVAL_SEED_BASE + 200  # not `make demo-eval`'s 200 scenes
    quality = evaluate_demo(demo, scenes=40, seed_base=REGRESSION_SEED_BASE)
    print(quality)
    assert quality.box_ap50 >= 0.90
    assert quality.mask_ap50 >= 0.85
    assert quality.keypoints_within_4px >= 0.80
