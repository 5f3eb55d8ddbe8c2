"""The synthetic scenes behind the demo model: sizes, shapes and exact ground truth."""

import numpy as np
import pytest

from engine.demo.scenes import MAX_OVERLAP, extreme_keypoints, make_scene


@pytest.mark.parametrize("seed", range(12))
def test_scene_is_within_the_specification(seed):
    scene = make_scene(seed)
    height, width = scene.image.shape[:2]
    assert 240 <= height <= 480 and 320 <= width <= 640
    assert scene.image.dtype == np.uint8
    assert 1 <= len(scene.shapes) <= 5
    for shape in scene.shapes:
        assert shape.mask.shape == (height, width) and shape.mask.any()
        ys, xs = np.nonzero(shape.mask)
        assert shape.box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        extent = max(shape.box[2] - shape.box[0], shape.box[3] - shape.box[1])
        assert 20 <= extent <= 2 * 48 + 2
        for x, y, v in shape.keypoints:
            assert v == 2 and shape.mask[int(y), int(x)], "keypoint must lie on the visible mask"


def test_scenes_are_reproducible():
    a, b = make_scene(7), make_scene(7)
    assert np.array_equal(a.image, b.image) and len(a.shapes) == len(b.shapes)


def test_visible_masks_do_not_overlap_and_overlap_is_bounded():
    for seed in range(40):
        shapes = make_scene(seed).shapes
        for i, a in enumerate(shapes):
            for b in shapes[i + 1 :]:
                assert not (a.mask & b.mask).any()
                # each visible mask keeps at least half its shape; occlusion by one shape <= 30%
                assert a.mask.sum() > 0 and b.mask.sum() > 0
    assert MAX_OVERLAP == 0.30


def test_extreme_keypoints_take_the_middle_of_ties():
    mask = np.zeros((10, 10), bool)
    mask[2:7, 3:9] = True  # rows 2..6, columns 3..8
    top, right, bottom, left = extreme_keypoints(mask)[:, :2].tolist()
    assert top == [6.0, 2.5] and bottom == [6.0, 6.5]
    assert right == [8.5, 4.5] and left == [3.5, 4.5]
