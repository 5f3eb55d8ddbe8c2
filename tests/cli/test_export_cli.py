"""`sightline export`: reviewed results from the store, no window, no model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from engine.review import ACCEPTED, REJECTED, RELABELLED, Decision
from engine.store import ClassifierKey, ReviewStore
from engine.types import CroppedMask, Detections

CLASSES = ("__background__", "circle", "square", "triangle")


def detections(n: int = 3) -> Detections:
    boxes = np.array([[4 + 12 * i, 5, 14 + 12 * i, 17] for i in range(n)], np.float32)
    masks = tuple(CroppedMask(4 + 12 * i, 5, np.ones((12, 10), bool)) for i in range(n))
    keypoints = np.tile(np.array([[6, 7, 1], [8, 9, 1]], np.float32), (n, 1, 1))
    return Detections((40, 60), boxes, np.array([0.9, 0.8, 0.7][:n], np.float32), np.array([1, 2, 3][:n]),
                      CLASSES, masks, keypoints, ("top", "tip"), model_name="demo-shapes")


@pytest.fixture
def reviewed(tmp_path):
    """A store with two reviewed images in photos/ and one elsewhere."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (tmp_path / "other").mkdir()
    paths = [photos / "a.png", photos / "b.png", tmp_path / "other" / "c.png"]
    for p in paths:
        p.write_bytes(p.name.encode())
    store = ReviewStore(tmp_path / "review.sqlite3")
    ids = [store.save_result(p, "demo-shapes", detections()) for p in paths]
    store.set_decision(ids[0], 0, Decision(ACCEPTED))
    store.set_decision(ids[0], 1, Decision(RELABELLED, 3))
    store.set_decision(ids[0], 2, Decision(REJECTED))
    store.set_reviewed(ids[0])
    store.save_classifier_labels(ids[0], ClassifierKey("/models/shapes.pt", 1), 0, [])  # another fingerprint
    from engine.review import boxes_fingerprint

    store.save_classifier_labels(ids[0], ClassifierKey("/models/shapes.pt", 1), boxes_fingerprint(detections()),
                                 [[("ring", 0.8)], [("block", 0.6)], [("wedge", 0.5)]])
    store.close()
    return tmp_path, paths


def test_coco_export_of_a_folder_carries_the_decisions(run_cli, reviewed):
    root, paths = reviewed
    out = root / "out.json"
    code, _, err = run_cli("export", root / "photos", "--out", out, "--store", root / "review.sqlite3")
    assert code == 0, err
    coco = COCO(str(out))
    assert sorted(img["file_name"] for img in coco.dataset["images"]) == sorted(str(p) for p in paths[:2])
    a = next(img for img in coco.dataset["images"] if img["file_name"].endswith("a.png"))
    assert a["reviewed"] is True
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[a["id"]]))
    assert [(x["review_state"], x["category_id"]) for x in anns] == [("accepted", 1), ("relabelled", 3)]
    assert anns[1]["original_category_id"] == 2
    assert [x["classifier_label"] for x in anns] == ["ring", "block"]
    assert "2 images or frames, 5 detections exported" in err


def test_accepted_only_csv_export_has_keypoint_columns(run_cli, reviewed):
    root, _ = reviewed
    out = root / "accepted.csv"
    code, _, err = run_cli("export", "--out", out, "--accepted-only", "--store", root / "review.sqlite3")
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert [(r["class"], r["review_state"]) for r in rows] == [("circle", "accepted"), ("triangle", "relabelled")]
    assert rows[0]["top_x"] == "6.0" and rows[0]["tip_y"] == "9.0"


def test_annotated_images_never_land_on_an_input(run_cli, reviewed):
    root, paths = reviewed
    code, _, err = run_cli("export", paths[2], "--out", root / "other", "--store", root / "review.sqlite3")
    assert code == 0, err
    assert paths[2].read_bytes() == b"c.png"
    assert (root / "other" / "c.annotated.png").exists() or "failed" in err


def test_export_refuses_what_it_cannot_do(run_cli, reviewed, tmp_path):
    root, paths = reviewed
    store = root / "review.sqlite3"
    code, _, err = run_cli("export", "--out", paths[0], "--format", "coco", "--store", store)
    assert code == 2 and "is one of the images" in err and paths[0].read_bytes() == b"a.png"
    code, _, err = run_cli("export", root / "missing", "--out", root / "x.json", "--store", store)
    assert code == 2 and "not found" in err
    code, _, err = run_cli("export", "--out", root / "x.json", "--store", root / "none.sqlite3")
    assert code == 2 and "no review store" in err
    code, _, err = run_cli("export", "--out", root / "x.json", "--model", "maskrcnn", "--store", store)
    assert code == 1 and "holds no results of maskrcnn" in err
    again = ReviewStore(store)
    again.save_result(paths[2], "other-model", detections(1))
    again.close()
    code, _, err = run_cli("export", "--out", root / "x.json", "--store", store)
    assert code == 2 and "several models (demo-shapes, other-model)" in err
    assert not (root / "x.json").exists()
    document = root / "doc.json"
    code, _, err = run_cli("export", "--out", document, "--model", "other-model", "--store", store)
    assert code == 0 and json.loads(document.read_text())["annotations"][0]["review_state"] == "pending"
