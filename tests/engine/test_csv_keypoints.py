"""CSV exports carry every keypoint's coordinates (and the model's score for it), as the README
says, from the whole-file writer (window, `detect --csv`, `export`) and the streamed one
(`detect --cluster --csv`) alike."""

from __future__ import annotations

import csv

import numpy as np

from engine.export import ExportItem, write_csv
from engine.export_stream import write_streamed
from engine.types import Detections

NAMES = ("__background__", "person")


def _detections() -> Detections:
    # Keypoint R-CNN's keypoint scores are logits: a real, placed keypoint can score below 0
    keypoints = np.array([[[15, 10, 3.0], [24, 15, -1.5]], [[40, 30, 0.5], [44, 35, 2.0]]], np.float32)
    return Detections((48, 64), np.array([[5, 5, 30, 25], [35, 25, 50, 40]], np.float32),
                      np.array([0.9, 0.7], np.float32), np.array([1, 1]), NAMES, keypoints=keypoints,
                      keypoint_names=("nose", "left_eye"))


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_keypoint_has_its_coordinates_and_score(tmp_path):
    rows = _rows(write_csv(tmp_path / "d.csv", [ExportItem("a.png", _detections())]))
    assert rows[0]["nose_x"] == "15.0" and rows[0]["nose_y"] == "10.0" and rows[0]["nose_score"] == "3.000"
    assert rows[0]["left_eye_x"] == "24.0" and rows[0]["left_eye_y"] == "15.0"  # scored below 0: still there
    assert rows[0]["left_eye_score"] == "-1.500" and rows[0]["num_keypoints"] == "1"
    assert rows[1]["left_eye_x"] == "44.0" and rows[1]["num_keypoints"] == "2"


def test_the_streamed_csv_has_the_same_keypoint_columns(tmp_path):
    det = _detections()
    items = [ExportItem("a.png", det), ExportItem("b.png", det)]
    write_csv(tmp_path / "whole.csv", items)
    write_streamed(iter(items), None, tmp_path / "streamed.csv", "persons", det)
    streamed = _rows(tmp_path / "streamed.csv")
    assert streamed[0]["left_eye_y"] == "15.0" and streamed[3]["nose_score"] == "0.500"
    assert (tmp_path / "streamed.csv").read_text() == (tmp_path / "whole.csv").read_text()
