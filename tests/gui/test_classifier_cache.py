"""The device thread keeps one classifier loaded, whoever asks: labelling boxes, Classify all
and the Explain dock share it, so explaining the label just computed loads nothing again and
two classifiers never sit in memory together."""

from __future__ import annotations

import os

import numpy as np

from gui.explain.work import classifier_explainer
from gui.review import classifier_labels
from tests.engine.explain_helpers import save_colour_classifier


def test_labels_and_explanations_share_the_loaded_classifier(tmp_path):
    first = str(save_colour_classifier(tmp_path / "a", input_size=64))
    second = str(save_colour_classifier(tmp_path / "b", input_size=64))
    image = np.zeros((64, 96, 3), np.uint8)
    image[:, :48] = (220, 40, 40)
    boxes = np.array([[0, 0, 48, 64]], np.float32)
    labels = classifier_labels.label_boxes(image, image.shape[:2], boxes, first, os.stat(first).st_mtime_ns, "cpu")
    assert labels[0][0][0] == "red"
    loaded = classifier_labels.loaded_classifier(first, "cpu")
    assert classifier_explainer(first, "cpu").model is loaded  # not loaded a second time
    classifier_explainer(second, "cpu")
    assert list(classifier_labels._LOADED) == [(second, os.stat(second).st_mtime_ns, "cpu")]  # one at a time
    assert classifier_labels.loaded_classifier(first, "cpu") is not loaded  # loaded again when asked again
