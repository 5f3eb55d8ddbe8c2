"""Review ▸ Classify all images: the chosen classifier labels every listed image's detections
on the model thread, with progress and Cancel; the labels are stored (not run twice), shown
beside the detector's and filterable ("Classifier says")."""

from __future__ import annotations

import pytest

from engine.review import boxes_fingerprint
from engine.review.classify_all import classify_all
from engine.review.view import DISAGREES
from engine.store import ClassifierKey
from engine.types import CancelToken
from tests.gui.helpers import wait_for_review
from tests.gui.test_classifier_in_window import CLASS_NAMES, always, install, pick

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint():
    """An untrained 32 px resnet18 classifier file's contents (`always` makes it say one class)."""
    from engine.train import strategies as S
    from engine.train.checkpoint import make_checkpoint
    from engine.train.transforms import IMAGENET_MEAN, IMAGENET_STD

    model = S.build_model("resnet18", len(CLASS_NAMES), pretrained=False).eval()
    return make_checkpoint(model, "resnet18", CLASS_NAMES, 32, IMAGENET_MEAN, IMAGENET_STD, "scratch", {}, "untrained")


def analysed_all(qtbot, window, paths) -> None:
    with qtbot.waitSignal(window.jobs.batch_finished, timeout=60_000):
        window.actions_["analyse_all"].trigger()
    qtbot.waitUntil(lambda: all(window.store.load_result(str(p), "demo-shapes") is not None for p in paths),
                    timeout=10_000)


def stored_labels(window, paths, path_of_classifier):
    key = ClassifierKey(str(path_of_classifier), path_of_classifier.stat().st_mtime_ns)
    out = []
    for p in paths:
        record = window.store.load_result(str(p), "demo-shapes")
        out.append(window.store.classifier_labels(record.result_id, key, boxes_fingerprint(record.detections)))
    return out


def test_classify_all_labels_stores_shows_and_filters(qtbot, make_window, scenes, fake_model, checkpoint):
    path = install(always(checkpoint, 2), "always-triangle")
    window = make_window(scenes[:3])
    wait_for_review(qtbot, window)
    analysed_all(qtbot, window, scenes[:3])
    tool = window.classifier_tools.classify_all
    assert tool.action in window.menu("Review").actions()
    pick(qtbot, window, path)
    with qtbot.waitSignal(tool.finished, timeout=60_000) as done:
        assert tool.start()
        assert tool.cancel_button.isVisible()  # progress and Cancel while it runs
    report = done.args[0]
    assert report.labelled + report.already == 3 and not report.failed and not tool.bar.isVisible()
    labels = stored_labels(window, scenes[:3], path)
    assert all(found and all(p[0][0] == "triangle" for p in found) for found in labels)  # stored for every image
    with qtbot.waitSignal(tool.finished, timeout=60_000) as again:
        tool.start()
    assert again.args[0].labelled == 0 and again.args[0].already == 3  # never run twice
    c = window.controller
    says = tool.says
    says.setCurrentIndex(says.findData(DISAGREES))
    qtbot.waitUntil(lambda: c.review is not None and tool.top_labels(c.review) is not None, timeout=30_000)
    review = c.review
    shown = c.visible().tolist()
    assert shown and all(review.name(i).casefold() != "triangle" for i in shown)
    assert len(shown) < len(c.filter.with_(classifier_says="").visible(review))  # its triangles are hidden
    says.setCurrentIndex(says.findData("triangle"))
    assert c.visible().tolist() == c.filter.with_(classifier_says="").visible(review).tolist()
    says.setCurrentIndex(says.findData("Circle"))
    assert c.visible().tolist() == []


def test_classify_all_without_a_classifier_says_so(qtbot, make_window, scenes, fake_model):
    window = make_window(scenes[:1])
    wait_for_review(qtbot, window)
    assert not window.classifier_tools.classify_all.start()
    assert "No classifier chosen" in window.status.currentMessage()


def test_cancel_stops_between_images_and_unreadable_images_are_named(tmp_path):
    from engine.store import ReviewStore
    from tests.engine.test_store import make_detections

    store = ReviewStore(tmp_path / "review.sqlite3")
    paths = []
    for n in range(4):
        image = tmp_path / f"{n}.png"
        image.write_bytes(b"x")
        store.save_result(image, "demo-shapes", make_detections())
        paths.append(str(image))
    key, cancel = ClassifierKey("/c.pt", 1), CancelToken()

    def label(path, size, boxes):
        if path.endswith("1.png"):
            raise ValueError("the image has changed since it was analysed")
        return [[("a", 1.0)] for _ in boxes]

    report = classify_all(store, paths, "demo-shapes", key, label,
                          progress=lambda p: p.done == 3 and cancel.cancel(), cancel=cancel)
    assert report.cancelled and report.labelled == 2 and report.failed == [f"{paths[1]}: the image has changed "
                                                                            "since it was analysed"]
    store.close()
