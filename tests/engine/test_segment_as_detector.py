"""A segmenter run as a detector: one detection per connected region of a class."""

import numpy as np
import torch

from engine.models import get_spec, list_specs
from engine.segment.as_detector import SegmenterDetector, open_model, regions
from engine.segment.model_file import make_segmenter_file, save_segmenter
from engine.segment.unet import UNet


def constant_segmenter(path, label=1, names=("background", "circle", "square")):
    """A segmenter file whose network calls every pixel `label`."""
    model = UNet(len(names), base=4, depth=2)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.eye(len(names))[label] * 5)
    return save_segmenter(make_segmenter_file(model, names, 64, (0.5,) * 3, (0.25,) * 3, name="constant"), path)


def test_regions_are_connected_pieces_of_one_class():
    classes = np.zeros((20, 30), np.uint8)
    classes[2:6, 2:6] = 1
    classes[10:15, 20:28] = 1
    classes[12:18, 2:8] = 2
    classes[0, 29] = 2  # a speck below the minimum area
    probability = np.full((20, 30), 0.5, np.float32)
    probability[12:18, 2:8] = 0.9
    det = regions(classes, probability, ("background", "circle", "square"))
    assert det.names == ["square", "circle", "circle"]  # best score first
    np.testing.assert_allclose(det.scores, [0.9, 0.5, 0.5], rtol=1e-6)
    assert det.boxes[0].tolist() == [2, 12, 8, 18] and det.masks[0].area == 36
    assert sorted(det.boxes[1:].tolist()) == [[2, 2, 6, 6], [20, 10, 28, 15]]
    assert sorted(m.area for m in det.masks[1:]) == [16, 40]


def test_a_segmenter_file_in_the_models_folder_is_a_model(sightline_models):
    constant_segmenter(sightline_models / "shapes.pt")
    assert "shapes.pt" in [spec.name for spec in list_specs()]
    assert get_spec("shapes.pt").categories == ("background", "circle", "square")
    detector = open_model("shapes.pt", device="cpu")
    assert isinstance(detector, SegmenterDetector)
    (det,) = detector.predict([np.zeros((48, 40, 3), np.uint8)])
    assert det.names == ["circle"] and det.image_size == (48, 40) and det.masks[0].area == 48 * 40
    assert det.model_name == "shapes.pt" and det.scores[0] > 0.9


def test_video_range_and_live_analysis_run_a_segmenter(tmp_path):
    from engine.demo.shapes_video import write_shapes_video
    from engine.video import LiveAnalyzer, analyse_video

    detector = SegmenterDetector(constant_segmenter(tmp_path / "shapes.pt"), device="cpu")
    clip = tmp_path / "clip.mp4"
    write_shapes_video(clip, frames=6)
    frames = [r.frame_index for r in analyse_video(detector, clip, stride=2)]
    assert frames == [0, 2, 4]
    with LiveAnalyzer(detector) as live:
        live.submit(0, 0.0, np.zeros((24, 32, 3), np.uint8))
        assert live.wait_idle(30)
        assert live.latest.detections.names == ["circle"] and not live.latest.error


def test_bench_lines_time_the_segmenter(tmp_path):
    from engine.segment.timing import segmenter_lines

    lines = segmenter_lines(constant_segmenter(tmp_path / "s.pt"), [np.zeros((30, 40, 3), np.uint8)], "cpu")
    assert "working size 64px, 3 classes" in lines[0]
    assert "ms/frame at 640x480" in lines[2] and "frames/s" in lines[2]
