"""`sightline import RESULTS.json`: a COCO file (as `detect --out` or a window export writes
it) becomes stored results the window shows without running a model."""

import json

import numpy as np
import pytest

from engine.export import ExportItem, write_coco
from engine.models import get_spec
from engine.store import ACCEPTED, REJECTED, RELABELLED, Decision, ReviewStore
from engine.types import CroppedMask, Detections

SPEC = get_spec("demo-shapes")


def shapes(n: int, seed: int) -> Detections:
    rng = np.random.default_rng(seed)
    boxes = np.array([[4 + 7 * i, 5 + 3 * i, 30 + 7 * i, 41 + 3 * i] for i in range(n)], np.float32).reshape(-1, 4)
    masks = tuple(CroppedMask(int(b[0]), int(b[1]), rng.random((36, 26)) > 0.4) for b in boxes)
    points = np.concatenate([boxes[:, None, :2] + rng.random((n, 4, 2)) * 20, np.ones((n, 4, 1))], 2).astype(np.float32)
    return Detections(image_size=(70, 90), boxes=boxes, scores=np.linspace(0.95, 0.55, n).astype(np.float32),
                      labels=np.arange(n, dtype=np.int64) % 3 + 1, class_names=SPEC.categories, masks=masks,
                      keypoints=points, keypoint_names=SPEC.keypoint_names, skeleton=SPEC.skeleton,
                      model_name="demo-shapes")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "photos" / name).write_bytes(b"the store only stats the file")
    return tmp_path


def test_detect_output_imports_as_stored_results(home, run_cli):
    found = {"photos/a.png": shapes(3, 1), "photos/b.png": shapes(0, 2)}
    write_coco(home / "results.json", [ExportItem(k, v) for k, v in found.items()], "demo-shapes")
    code, _, err = run_cli("import", home / "results.json")
    assert code == 0, err
    assert "2 images imported (3 detections) as results of demo-shapes" in err
    store = ReviewStore()
    for name, original in found.items():
        stored = store.load_result(home / name, "demo-shapes")
        det = stored.detections
        assert det.class_names == SPEC.categories and len(det) == len(original)
        np.testing.assert_allclose(det.boxes, original.boxes, atol=0.01)
        np.testing.assert_allclose(det.scores, original.scores, atol=1e-5)
        assert (det.labels == original.labels).all()
        for a, b in zip(det.masks, original.masks):
            assert (a.to_full(70, 90) == b.to_full(70, 90)).all()
        if len(original):
            np.testing.assert_allclose(det.keypoints[:, :, :2], original.keypoints[:, :, :2], atol=0.01)
    store.close()


def test_window_export_keeps_review_states(home, run_cli):
    det = shapes(3, 3)
    relabelled = det.labels.copy()
    relabelled[2] = 3 if det.labels[2] != 3 else 1
    extras = [{"review_state": ACCEPTED}, {"review_state": REJECTED},
              {"review_state": RELABELLED, "original_category_id": int(det.labels[2])}]
    from dataclasses import replace

    item = ExportItem("photos/a.png", replace(det, labels=relabelled), {"reviewed": True}, extras)
    write_coco(home / "export.json", [item], "demo-shapes")
    assert run_cli("import", home / "export.json")[0] == 0
    stored = ReviewStore().load_result(home / "photos/a.png", "demo-shapes")
    assert (stored.detections.labels == det.labels).all()  # the model's classes, relabel as a decision
    assert stored.decisions == {0: Decision(ACCEPTED), 1: Decision(REJECTED), 2: Decision(RELABELLED, int(relabelled[2]))}
    assert stored.reviewed


def test_missing_images_are_named_and_the_rest_imported(home, run_cli):
    items = [ExportItem("photos/a.png", shapes(2, 4)), ExportItem("photos/gone.png", shapes(1, 5))]
    write_coco(home / "results.json", items, "demo-shapes")
    code, _, err = run_cli("import", home / "results.json", "--model", "my-model")
    assert code == 1
    assert "1 images imported" in err and "photos/gone.png: image not found" in err
    stored = ReviewStore().load_result(home / "photos/a.png", "my-model")
    assert stored.detections.names == [SPEC.categories[i] for i in items[0].detections.labels]


def test_unusable_files_exit_2(home, run_cli):
    (home / "bad.json").write_text("{not json")
    code, _, err = run_cli("import", home / "bad.json")
    assert code == 2 and "bad.json" in err
    document = {"images": [], "annotations": [], "categories": []}
    (home / "anonymous.json").write_text(json.dumps(document))
    code, _, err = run_cli("import", home / "anonymous.json")
    assert code == 2 and "--model" in err
