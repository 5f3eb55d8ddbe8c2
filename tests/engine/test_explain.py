"""Explanations: Grad-CAM, Grad-CAM++ and occlusion point where the answer is; maps come back
float32, 0..1, in the original image's pixels whatever its size; a detector's occlusion map
peaks on its detection; feature maps and filters have the promised shapes."""

import numpy as np
import pytest

from engine.explain import open_model
from engine.explain.maps import cells_to_image
from engine.explain.occlusion import matched_scores, windows
from engine.types import Detections
from tests.engine.explain_helpers import demo_scene, half_cell, on_square, save_colour_classifier, scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return open_model(str(save_colour_classifier(tmp_path_factory.mktemp("models"), input_size=128)), device="cpu")


@pytest.fixture(scope="module")
def demo():
    return open_model("demo-shapes", device="cpu")


def test_occlusion_windows_cover_the_image_up_to_its_edges():
    covered = np.zeros((50, 70), int)
    for y0, x0, y1, x1 in windows(50, 70, 16, 12):
        assert y1 - y0 == 16 and x1 - x0 == 16
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1 and (0, 54, 16, 70) in windows(50, 70, 16, 12)
    assert windows(10, 10, 32, 8) == [(0, 0, 10, 10)]  # a patch larger than the image is clipped


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
@pytest.mark.parametrize("height,width", [(120, 300), (400, 180), (37, 61)])
def test_cam_points_at_the_asked_class_in_the_images_own_pixels(colours, method, height, width):
    side = max(8, min(height, width) // 4)
    red, blue = (width // 5, height // 2, side), (3 * width // 5, height // 5, side)
    image = scene(height, width, {"red": red, "blue": blue})
    for layer, stride in (("layer4", 32), ("layer2", 8)):
        for target, (x0, y0, side) in (("red", red), ("blue", blue)):
            heatmap = colours.heatmaps(image, method, target=target, layer=layer)[0]
            values = heatmap.values
            assert values.shape == (height, width) and values.dtype == np.float32
            assert values.min() >= 0 and values.max() == pytest.approx(1, abs=1e-5) and heatmap.target == target
            assert on_square(heatmap.peak, (x0, y0, side), half_cell(stride, 128, height, width))
            inside = values[y0 : y0 + side, x0 : x0 + side].mean()
            assert inside > 2 * values.mean()


def test_cells_are_drawn_over_the_pixels_they_are_centred_on():
    cells = np.zeros((4, 4), np.float32)
    cells[1, 2] = 1.0  # in a ResNet, cell (1, 2) of a stride-32 grid sits on input pixel (64, 32)
    values = cells_to_image(cells, 32, (128, 128), 256, 128)  # input stretched from 128 x 256
    y, x = np.unravel_index(np.argmax(values), values.shape)
    assert values.shape == (256, 128) and (x, y) == (64, 64)


def test_cam_explains_the_predicted_class_by_default(colours):
    image = scene(100, 100, {"green": (60, 10, 30)})
    heatmap = colours.heatmaps(image, "gradcam")[0]
    assert heatmap.target == "green" and heatmap.score > 0.5
    assert on_square(heatmap.peak, (60, 10, 30), half_cell(32, 128, 100, 100))


def test_classifier_occlusion_drop_is_on_the_object(colours):
    square = (20, 70, 40)
    image = scene(140, 110, {"blue": square, "red": (70, 10, 16)})
    progress = []
    heatmap = colours.heatmaps(image, "occlusion", target="blue", patch=32, stride=16, progress=progress.append)[0]
    assert heatmap.values.shape == (140, 110) and 0 <= heatmap.values.min() and heatmap.values.max() <= 1
    assert on_square(heatmap.peak, square, tolerance=0)
    x0, y0, side = square
    inside = heatmap.values[y0 : y0 + side, x0 : x0 + side].mean()
    assert inside > 3 * heatmap.values[:, 80:].mean()
    assert progress[-1].done == progress[-1].total == 49


def test_bad_targets_and_layers_are_refused_by_name(colours, demo):
    image = scene(64, 64, {"red": (8, 8, 20)})
    with pytest.raises(ValueError, match="no class 'purple'.*red, green, blue"):
        colours.heatmaps(image, "gradcam", target="purple")
    with pytest.raises(ValueError, match="unknown layer 'layer9'"):
        colours.heatmaps(image, "gradcam", layer="layer9")
    with pytest.raises(ValueError, match="for a detector use occlusion"):
        demo.heatmaps(image, "gradcam")


def _detections(boxes, scores, labels):
    return Detections((100, 100), np.array(boxes, np.float32), np.array(scores, np.float32),
                      np.array(labels, np.int64), ("bg", "a", "b"))  # fmt: skip


def test_a_detection_is_followed_across_runs_by_iou_and_class():
    reference = _detections([[10, 10, 50, 50], [60, 60, 90, 90]], [0.9, 0.8], [1, 2])
    found = _detections([[12, 11, 50, 52], [60, 60, 90, 90], [0, 0, 100, 100]], [0.7, 0.6, 0.99], [1, 1, 1])
    assert matched_scores(reference, found).tolist() == pytest.approx([0.7, 0.0])  # second: wrong class
    shifted = _detections([[30, 30, 70, 70]], [0.95], [1])  # IoU 0.14 with the first: not it
    assert matched_scores(reference, shifted).tolist() == [0.0, 0.0]


def test_detector_occlusion_drop_is_largest_over_the_detection(demo):
    image, truth = demo_scene()
    detections = demo.detect(image, 0.5)
    assert len(detections) == 1 and detections.names == ["circle"]
    heatmap = demo.heatmaps(image, "occlusion", detections=detections, patch=32, stride=32)[0]
    assert heatmap.values.shape == image.shape[:2] and heatmap.values.dtype == np.float32
    x0, y0, x1, y1 = (int(v) for v in truth)
    x, y = heatmap.peak
    assert x0 <= x < x1 and y0 <= y < y1 and heatmap.detection == 0
    outside = heatmap.values.copy()
    outside[max(0, y0 - 32) : y1 + 32, max(0, x0 - 32) : x1 + 32] = 0  # patches that touch the circle
    assert heatmap.values.max() > 0.2 and outside.max() < 0.1 * heatmap.values.max()


def test_feature_maps_show_the_strongest_channels_in_image_pixels(colours, demo):
    image = scene(90, 150, {"red": (100, 40, 30)})
    stages = colours.features(image, top=3)
    assert [s.stage for s in stages] == ["layer1", "layer2", "layer3", "layer4"]
    for stage in stages:
        assert stage.maps.shape == (3, 90, 150) and stage.maps.dtype == np.float32
        assert 0 <= stage.maps.min() and stage.maps.max() <= 1 and list(stage.strengths) == sorted(stage.strengths, reverse=True)
    layer4 = stages[-1]
    red = layer4.maps[layer4.channels.index(0)]  # channel 0 carries "red" in this network
    y, x = np.unravel_index(np.argmax(red), red.shape)
    assert on_square((x, y), (100, 40, 30), half_cell(32, 128, 90, 150))
    picture, _ = demo_scene()
    levels = demo.features(picture, ["layer2", "fpn0", "fpnpool"], top=2)
    assert [(s.stage, s.maps.shape, s.stride) for s in levels] == [
        ("layer2", (2, 144, 160), 8), ("fpn0", (2, 144, 160), 4), ("fpnpool", (2, 144, 160), 32)]
    assert demo.stages() == ["layer1", "layer2", "layer3", "fpn0", "fpn1", "fpn2", "fpnpool"]
    with pytest.raises(ValueError, match="unknown stage layer4"):
        demo.features(picture, ["layer4"])


def test_first_layer_filters(colours, demo):
    filters = colours.filters()
    assert filters.layer == "conv1" and filters.weights.shape == (64, 7, 7, 3)
    assert filters.weights.min() >= 0 and filters.weights.max() <= 1
    assert demo.filters().layer == "backbone.body.conv1"


def test_models_open_by_registry_name_classifier_file_or_classifier_name(colours, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    from engine.weights import user_models_dir

    path = save_colour_classifier(user_models_dir(), input_size=32, name="paints")
    assert open_model("paints", device="cpu").kind == "classifier"
    assert open_model(str(path), device="cpu").class_names == ("red", "green", "blue")
    from engine.weights import WeightsError

    with pytest.raises(WeightsError, match="nothing"):
        open_model("nothing", device="cpu")
