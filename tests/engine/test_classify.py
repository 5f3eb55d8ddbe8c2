"""Classifier: top-k labels for whole images and for crops, in batches."""

import numpy as np
import pytest
import torch

from engine.classify import Classifier, crop_boxes
from engine.train import checkpoint as C
from engine.train import strategies as S
from engine.weights import WeightsError


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = S.build_model("resnet18", 4, pretrained=False)
    checkpoint = C.make_checkpoint(model, "resnet18", ("a", "b", "c", "d"), 32, (0.485, 0.456, 0.406),
                                   (0.229, 0.224, 0.225), "scratch", {"val_accuracy": 0.5}, "abcd")  # fmt: skip
    return C.save_classifier(checkpoint, tmp_path_factory.mktemp("models") / "abcd.pt")


def images(count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(20 + 7 * i, 30 + 5 * i, 3), dtype=np.uint8) for i in range(count)]


def test_predict_returns_top_k_sorted_probabilities(model_file):
    classifier = Classifier(model_file, device="cpu", batch_size=2)
    assert classifier.class_names == ("a", "b", "c", "d") and classifier.name == "abcd"
    predictions = classifier.predict(images(5), top_k=3)
    assert len(predictions) == 5
    for prediction in predictions:
        assert len(prediction) == 3 and {label for label, _ in prediction} <= {"a", "b", "c", "d"}
        probabilities = [p for _, p in prediction]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    assert len(classifier.predict(images(1), top_k=10)[0]) == 4
    assert classifier.predict([]) == []


def test_batching_does_not_change_results(model_file):
    one = Classifier(model_file, device="cpu", batch_size=1).probabilities(images(4))
    many = Classifier(model_file, device="cpu", batch_size=3).probabilities(images(4))
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert one.shape == (4, 4) and np.allclose(one.sum(1), 1, atol=1e-5)


def test_crops_are_classified_like_the_cut_out_images(model_file):
    classifier = Classifier(model_file, device="cpu")
    scene = images(1, seed=3)[0]
    scene = np.pad(scene, ((0, 40), (0, 40), (0, 0)))
    boxes = np.array([[0, 0, 10, 12], [5.5, 3.2, 40.7, 30.1], [60, 50, 500, 500]], np.float32)
    crops = crop_boxes(scene, boxes)
    assert [c.shape[:2] for c in crops] == [(12, 10), (28, 36), (scene.shape[0] - 50, scene.shape[1] - 60)]
    by_crop = classifier.predict_crops(scene, boxes, top_k=2)
    assert by_crop == classifier.predict(crops, top_k=2)
    assert classifier.predict_crops(scene, np.zeros((0, 4))) == []
    grown = crop_boxes(scene, boxes[1:2], padding=0.5)[0]
    assert grown.shape[0] > 28 and grown.shape[1] > 36


def test_grey_images_accepted_and_bad_arrays_refused(model_file):
    classifier = Classifier(model_file, device="cpu")
    assert len(classifier.predict([np.zeros((16, 16), np.uint8)])) == 1
    with pytest.raises(ValueError, match="uint8"):
        classifier.predict([np.zeros((16, 16, 3), np.float32)])


def test_unusable_files_raise_checkpoint_errors(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"nonsense")
    with pytest.raises(WeightsError, match="junk.pt"):
        Classifier(tmp_path / "junk.pt", device="cpu")


def test_label_boxes_takes_an_array_an_image_file_or_a_video_frame(model_file, tmp_path):
    """A video frame is labelled from its pixels (or the video and the frame's index), never by
    opening the video as if it were an image."""
    from PIL import Image

    from engine.demo.shapes_video import write_shapes_video
    from engine.video_io import VideoReader

    classifier = Classifier(model_file, device="cpu")
    video = tmp_path / "clip.mp4"
    write_shapes_video(video, frames=6, width=96, height=64)
    with VideoReader(video) as reader:
        frame = reader.read(4)
    boxes = np.array([[2, 3, 40, 30], [50, 10, 90, 60]], np.float32)
    expected = classifier.predict_crops(frame, boxes, top_k=2, padding=0.1)
    assert classifier.label_boxes(frame, boxes, top_k=2, padding=0.1, image_size=(64, 96)) == expected
    assert classifier.label_boxes(video, boxes, top_k=2, padding=0.1, frame=4) == expected
    Image.fromarray(frame).save(tmp_path / "still.png")
    assert classifier.label_boxes(tmp_path / "still.png", boxes, top_k=2, padding=0.1) == expected
    with pytest.raises(ValueError, match="re-analyse"):
        classifier.label_boxes(frame, boxes, image_size=(120, 96))
    with pytest.raises(Exception, match="clip.mp4"):
        classifier.label_boxes(video, boxes, frame=60)
