"""The segmenter engine: COCO class maps, a few training steps, the model file, prediction."""

import dataclasses
import fractions
import json
import math

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from engine.demo.scenes_coco import write_scene_folder
from engine.segment import metrics
from engine.segment.data import IGNORE, DataError, find_annotations, load_coco
from engine.segment.model_file import SegmenterFileError, load_segmenter_file, save_segmenter
from engine.segment.predict import Segmenter, draw_class_map
from engine.segment.train import SegmenterSettings, train_segmenter
from engine.train.checkpoint import make_checkpoint, save_classifier
from engine.types import CancelToken, Cancelled
from engine.weights import WeightsError

TINY = dict(epochs=2, image_size=64, batch_size=2, base=4, depth=2, samples_per_epoch=4, patience=0)


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


@pytest.fixture
def coco_folder(tmp_path):
    """Two 40x60 images: a polygon square of 'cat' inside an RLE 'dog', a crowd region, one
    image named by an absolute path, and one listed image that does not exist."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(images / name), np.full((40, 60, 3), 90, np.uint8))
    dog = np.zeros((40, 60), bool)
    dog[5:35, 5:45] = True
    crowd = np.zeros((40, 60), bool)
    crowd[0:4, 50:60] = True
    document = {
        "images": [{"id": 1, "file_name": "images/a.png", "width": 60, "height": 40},
                   {"id": 2, "file_name": str(images / "b.png"), "width": 60, "height": 40},
                   {"id": 3, "file_name": "images/missing.png", "width": 60, "height": 40}],
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 0,
             "segmentation": [[10, 10, 20, 10, 20, 20, 10, 20]]},
            {"id": 2, "image_id": 1, "category_id": 7, "iscrowd": 0, "segmentation": _rle(dog)},
            {"id": 3, "image_id": 1, "category_id": 7, "iscrowd": 1, "segmentation": _rle(crowd)},
        ],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(document))
    return tmp_path


def test_coco_masks_become_class_maps(coco_folder):
    data = load_coco(find_annotations(coco_folder))
    assert data.class_names == ("background", "cat", "dog")  # category id order
    assert [f.path.endswith("missing.png") for f in data.failures] == [True]
    first, second = data.samples
    assert first.target[15, 15] == 1  # the small cat painted over the larger dog
    assert first.target[30, 40] == 2
    assert first.target[38, 55] == 0 and first.target[1, 55] == IGNORE  # crowd is ignored
    assert (second.target == 0).all()  # an image without annotations is all background


def test_unusable_annotations_are_named(tmp_path):
    with pytest.raises(DataError, match="no COCO annotations"):
        find_annotations(tmp_path)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(DataError, match="x.json"):
        load_coco(find_annotations(tmp_path))


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    return load_coco(write_scene_folder(folder, 7_000_000, 4), image_size=64)


def test_training_reports_epochs_and_keeps_the_best(scenes, one_torch_thread):
    epochs, steps = [], []
    result = train_segmenter(scenes, SegmenterSettings(**TINY), progress=steps.append, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == [1, 2] and result.stop_reason == "completed"
    assert steps[-1].done == steps[-1].total
    best = max(epochs, key=lambda e: e.val_mean_iou)
    assert result.best_epoch == best.epoch
    assert result.file.metrics["mean_iou"] == pytest.approx(best.val_mean_iou)
    assert set(result.file.metrics["iou"]) == {"background", "circle", "square", "triangle"}
    assert result.train_images == 3 and result.val_images == 1
    own = result.file.metrics["at_own_size"]  # the background bias was chosen on the validation image
    assert result.file.metrics["background_bias"] == result.file.background_bias
    assert own["with_bias"]["mean_iou"] >= own["without_bias"]["mean_iou"]


def test_stop_keeps_a_model_and_cancel_aborts(scenes, one_torch_thread):
    stop = CancelToken()
    result = train_segmenter(scenes, SegmenterSettings(**{**TINY, "epochs": 5}), stop=stop,
                             on_epoch=lambda e: stop.cancel())
    assert result.stop_reason == "stopped by request" and len(result.history) == 1
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        train_segmenter(scenes, SegmenterSettings(**TINY), cancel=cancel)


def test_model_file_round_trip_and_prediction_at_original_size(scenes, tmp_path, one_torch_thread):
    result = train_segmenter(scenes, SegmenterSettings(**{**TINY, "epochs": 1}))
    path = save_segmenter(result.file, tmp_path / "seg.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["seg.pt"]  # no temporary file left behind
    loaded = load_segmenter_file(path)
    assert loaded.class_names == result.file.class_names and loaded.input_size == 64
    image = scenes.samples[0].image[:37, :53]  # odd sizes: padded inside, cut back outside
    before = Segmenter(result.file).predict(image)
    after = Segmenter(path).predict(image)
    assert after.shape == (37, 53) and after.dtype == np.uint8 and after.max() < 4
    np.testing.assert_array_equal(before, after)


def test_files_that_are_not_segmenters_are_refused(tmp_path):
    classifier = make_checkpoint(torch.nn.Linear(2, 2), "resnet18", ["a", "b"], 32, (0, 0, 0), (1, 1, 1), "scratch")
    path = save_classifier(classifier, tmp_path / "classifier.pt")
    with pytest.raises(SegmenterFileError, match="not a Sightline segmenter"):
        load_segmenter_file(path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "sightline-segmenter", "payload": fractions.Fraction(1, 3)}, evil)
    with pytest.raises(WeightsError, match="refused"):
        load_segmenter_file(evil)


def test_iou_per_class_and_foreground():
    truth = np.array([[0, 1, 1, 2], [0, 0, 2, IGNORE]], np.uint8)
    guess = np.array([[0, 1, 2, 2], [1, 0, 2, 1]], np.uint8)
    confusion = metrics.Confusion(3)
    confusion.add(truth, guess)
    iou = confusion.iou()
    assert iou[1] == pytest.approx(1 / 3) and iou[2] == pytest.approx(2 / 3)
    assert confusion.foreground_iou() == pytest.approx(4 / 5)
    assert math.isnan(metrics.Confusion(3).foreground_iou())


def test_class_map_overlay_tints_only_objects():
    image = np.full((4, 4, 3), 100, np.uint8)
    classes = np.zeros((4, 4), np.uint8)
    classes[1, 1] = 2
    drawn = draw_class_map(image, classes, opacity=0.5)
    assert (drawn[0, 0] == 100).all() and not (drawn[1, 1] == 100).all()
    assert (image == 100).all()


def test_dice_loss_scores_every_class_alike_and_skips_ignored_pixels():
    from engine.segment.train import soft_dice_loss

    targets = torch.zeros(1, 8, 8, dtype=torch.long)
    targets[0, :2, :2] = 1  # a small class: 4 pixels of 64
    right = torch.nn.functional.one_hot(targets, 2).permute(0, 3, 1, 2).float() * 40
    assert float(soft_dice_loss(right, targets)) < 0.01
    # all background: 94% of the pixels right, but the small class is missed entirely
    background = torch.zeros(1, 2, 8, 8)
    background[:, 0] = 40
    assert float(soft_dice_loss(background, targets)) > 0.4
    ignored = targets.clone()
    ignored[0, :2, :2] = IGNORE  # the missed pixels no longer count
    assert float(soft_dice_loss(background, ignored)) < 0.5 * float(soft_dice_loss(background, targets))


def test_default_crop_fits_the_network_stride_and_half_the_working_size():
    settings = SegmenterSettings()
    multiple = 2**settings.depth * settings.stem_stride
    assert settings.crop % multiple == 0 and settings.crop >= settings.image_size // 2


def test_files_of_the_previous_default_architecture_still_load(tmp_path):
    from engine.segment.model_file import make_segmenter_file
    from engine.segment.unet import UNet

    names = ("background", "circle", "square", "triangle")
    old = make_segmenter_file(UNet(4, base=16, depth=4, stem_stride=2), names, 320, (0.5,) * 3, (0.25,) * 3)
    document = old.to_dict()
    del document["background_bias"]  # files from before the bias lack it
    path = tmp_path / "old.pt"
    torch.save(document, path)
    assert load_segmenter_file(path).background_bias == 0.0
    classes = Segmenter(path, device="cpu").predict(np.zeros((48, 70, 3), np.uint8))
    assert classes.shape == (48, 70) and classes.max() < 4
    # weights that do not fit the sizes the file states are refused, naming the file
    mismatched = old.to_dict()
    mismatched["architecture"]["depth"] = 5
    torch.save(mismatched, tmp_path / "mismatched.pt")
    with pytest.raises(SegmenterFileError, match="mismatched.pt: weights do not fit"):
        Segmenter(tmp_path / "mismatched.pt", device="cpu")


def _disc(radius: float, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - 32) ** 2 + (xx - 32) ** 2 <= radius**2


def test_background_bias_shrinks_outlines_drawn_too_large(monkeypatch):
    from engine.segment import calibrate
    from engine.segment.data import Sample
    from engine.segment.model_file import make_segmenter_file
    from engine.segment.unet import UNet

    file = make_segmenter_file(UNet(2, base=4, depth=1), ("background", "disc"), 64, (0.5,) * 3, (0.25,) * 3)
    # the network's object logit falls off with the distance from the centre: its outline (where
    # the two logits are equal) is a disc of radius 14, the truth's radius is 10
    yy, xx = np.mgrid[:64, :64]
    distance = np.sqrt((yy - 32.0) ** 2 + (xx - 32.0) ** 2)
    logits = np.stack([np.zeros((64, 64)), (14 - distance) / 4], -1).astype(np.float32)
    monkeypatch.setattr(calibrate.Segmenter, "full_logits", lambda self, image: logits)
    truth = Sample("a.png", np.zeros((64, 64, 3), np.uint8), _disc(10).astype(np.uint8))
    bias, scores = calibrate.choose_background_bias(file, [truth])
    assert bias == pytest.approx(1.0)  # (14 - 10) / 4: the outline moved onto the truth's
    assert scores[bias]["mean_iou"] > 0.95 > scores[0.0]["mean_iou"]
    exact = Sample("b.png", truth.image, _disc(14).astype(np.uint8))
    assert calibrate.choose_background_bias(file, [exact])[0] == 0.0  # nothing to move


def test_prediction_adds_the_background_bias():
    from engine.segment.model_file import make_segmenter_file
    from engine.segment.unet import UNet

    file = make_segmenter_file(UNet(2, base=4, depth=1), ("background", "disc"), 32, (0.5,) * 3, (0.25,) * 3)
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    logits = Segmenter(file, device="cpu").full_logits(image)
    shifted = dataclasses.replace(file, background_bias=float(np.abs(logits).max() * 2 + 1))
    assert (Segmenter(shifted, device="cpu").predict(image) == 0).all()
    lowered = dataclasses.replace(file, background_bias=-float(np.abs(logits).max() * 2 + 1))
    assert (Segmenter(lowered, device="cpu").predict(image) == 1).all()
