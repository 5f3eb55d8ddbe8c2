"""Fine-tuning the demo detector: from a COCO folder with a class it has never seen, and from
reviewed images in the review store. A few iterations on a few small scenes each."""

import numpy as np
import pytest
import torch

from engine import models
from engine.demo.scene_folder import write_scene_folder
from engine.demo.scenes import make_scene
from engine.detect import Detector
from engine.images import load_image
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore
from engine.train.dataset import DatasetError
from engine.train.detection_data import load_coco
from engine.train.detector_checkpoint import load_detector_file
from engine.train.detector_pipeline import DetectorConfig, train_detector
from engine.train.review_source import read_reviewed
from engine.types import Cancelled, CancelToken
from engine.weights import user_models_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_cross_seeds(count: int, first: int = 5_000_000) -> list[int]:
    """Seeds of small 4-class scenes that hold at least one cross (cheap to train on)."""
    seeds = []
    for seed in range(first, first + 400):
        scene = make_scene(seed, 4)
        if scene.image.shape[0] * scene.image.shape[1] <= 360 * 260 and any(s.label == 3 for s in scene.shapes):
            seeds.append(seed)
            if len(seeds) == count:
                return seeds
    raise AssertionError("not enough small scenes")


@pytest.fixture(scope="module")
def cross_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crosses")
    return write_scene_folder(folder, small_cross_seeds(5))


@pytest.fixture(scope="module")
def trained(cross_folder):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    epochs = []
    result = train_detector(load_coco(cross_folder), DetectorConfig(epochs=4, batch_size=2, lr=0.02, device="cpu"),
                            on_epoch=epochs.append)
    torch.set_num_threads(before)
    path = result.save(user_models_dir() / "test-cross.pt")
    return result, path, epochs


@pytest.mark.slow
def test_new_class_is_learned_saved_and_detected(trained, cross_folder):
    result, path, epochs = trained
    assert result.plan.new_classes == ("cross",)
    assert epochs[-1].train_loss < epochs[0].train_loss  # the loss falls
    assert result.before is not None and result.after.box_ap50 >= result.before.box_ap50
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "sightline-detector" and raw["base"] == "demo-shapes"
    checkpoint = load_detector_file(path)
    assert checkpoint.class_names == ("__background__", "circle", "square", "triangle", "cross")
    assert checkpoint.keypoint_names == ("top", "right", "bottom", "left")
    assert set(checkpoint.metrics) >= {"before", "after", "history"} and checkpoint.date
    assert checkpoint.input_scale["native"] is True
    detector = Detector("test-cross", device="cpu")  # by its name in the user models folder
    images = [load_image(s.path) for s in load_coco(cross_folder).samples]
    found = [name for det in detector.predict(images) for name in det.names]
    assert "cross" in found


@pytest.mark.slow
def test_fine_tuned_file_is_a_model_everywhere(trained):
    _, path, _ = trained
    spec = next(s for s in models.list_specs() if s.name == "test-cross")
    assert spec.weight_status().state == "trained" and spec.weights_path() == path.resolve()
    assert spec.categories[-1] == "cross" and "masks" in spec.outputs
    assert models.get_spec(str(path)).categories == spec.categories  # by path too
    model = models.load_model("test-cross")
    assert model.roi_heads.box_predictor.cls_score.out_features == 5


def test_a_classifier_file_is_not_listed_as_a_detector(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    user_models_dir().mkdir(parents=True)
    torch.save({"format": "sightline-classifier", "state_dict": {}}, user_models_dir() / "cls.pt")
    (user_models_dir() / "junk.pt").write_bytes(b"not a model")
    assert [s.name for s in models.list_specs()] == list(models.REGISTRY)
    with pytest.raises(models.UnknownModel):
        models.get_spec("cls")


def _review(store: ReviewStore, paths, detector) -> dict:
    """Analyse each image, accept the two best detections, reject the third, relabel the
    fourth to 'square'; mark all but the last image reviewed. Returns what was decided."""
    decided = {}
    for n, path in enumerate(paths):
        det = detector.predict([load_image(path)])[0]
        rid = store.save_result(path, "demo-shapes", det)
        kept = []
        for i in range(min(4, len(det))):
            decision = Decision(RELABELLED, 2) if i == 3 else Decision(REJECTED) if i == 2 else Decision(ACCEPTED)
            store.set_decision(rid, i, decision)
            if decision.state != REJECTED:
                kept.append("square" if i == 3 else det.names[i])
        if n < len(paths) - 1:
            store.set_reviewed(rid)
            decided[str(path)] = kept
    return decided


def test_reviewed_detections_become_training_data(cross_folder, tmp_path):
    store = ReviewStore(tmp_path / "review.sqlite3")
    paths = sorted(cross_folder.parent.glob("*.png"))
    decided = _review(store, paths, Detector("demo-shapes", device="cpu"))
    data = read_reviewed(cross_folder.parent, store)
    assert data.base_model == "demo-shapes"
    assert {str(s.path): [i.label for i in s.instances] for s in data.samples} == decided
    assert "1 images with decisions that are not marked reviewed" in data.problems[0]
    assert data.has_masks and data.keypoint_names == ("top", "right", "bottom", "left")
    # and they train a model that loads and detects
    result = train_detector(data, DetectorConfig(epochs=1, batch_size=2, val_fraction=0, device="cpu"))
    assert result.before is None and result.fit.iterations == 2
    path = result.save(tmp_path / "from-review.pt")
    det = Detector(str(path), device="cpu").predict([load_image(paths[0])])[0]
    assert det.class_names == ("__background__", "circle", "square", "triangle") and len(det) > 0


def test_no_reviewed_images_is_a_clear_error(cross_folder, tmp_path):
    store = ReviewStore(tmp_path / "empty.sqlite3")
    with pytest.raises(DatasetError, match="no reviewed images"):
        read_reviewed(cross_folder.parent, store)


def test_cancel_stops_training_and_keeps_nothing(cross_folder):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        train_detector(load_coco(cross_folder), DetectorConfig(epochs=1, batch_size=2, device="cpu"), cancel=token)


def test_stop_keeps_the_first_finished_epoch(cross_folder):
    stop = CancelToken()
    epochs = []

    def on_epoch(m):
        epochs.append(m)
        stop.cancel()

    config = DetectorConfig(epochs=5, batch_size=4, val_fraction=0.2, device="cpu")
    result = train_detector(load_coco(cross_folder), config, stop=stop, on_epoch=on_epoch)
    assert len(epochs) == 1 and result.fit.stop_reason == "stopped by request" and result.fit.best_epoch == 1
    assert np.isfinite(result.after.box_ap50)


def test_importing_a_fine_tuned_file_lists_it(tmp_path, monkeypatch):
    from engine.train import detection_model as DM
    from engine.train.detector_checkpoint import make_checkpoint, save_detector

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    plan = DM.plan("demo-shapes", ("circle", "cross"))
    checkpoint = make_checkpoint(DM.build(plan), plan.base, plan.class_names, plan.outputs, plan.keypoint_names,
                                 plan.skeleton, name="elsewhere")
    source = save_detector(checkpoint, tmp_path / "downloads" / "shapes-v2.pt")
    name, installed = models.import_weights(source, "demo-shapes")  # the window passes its current model
    assert (name, installed) == ("shapes-v2", user_models_dir() / "shapes-v2.pt") and source.is_file()
    assert models.get_spec("shapes-v2").categories[-1] == "cross"
