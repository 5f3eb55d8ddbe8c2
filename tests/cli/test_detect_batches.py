"""`sightline detect --batch-size N`: N images per model call, decoded ahead on another thread."""

import threading

import cv2
import pytest

from engine import image_batches
from engine.demo.scenes import make_scene
from engine.detect import Detector

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def nine_files(tmp_path):
    """Eight small scenes and, fourth in name order, a file that is not an image."""
    for i in range(8):
        image = make_scene(300 + i).image[:240, :320]
        cv2.imwrite(str(tmp_path / f"img{i + (i >= 3)}.png"), image[:, :, ::-1])
    (tmp_path / "img3.png").write_text("not a picture")
    return tmp_path


def test_batch_size_runs_that_many_images_per_model_call_while_the_next_are_decoded(
        nine_files, tmp_path, monkeypatch, run_cli):
    read = threading.Condition()
    readers, calls = [], []
    real_load, real_forward = image_batches.load_image, Detector.forward

    def counting_load(path):
        with read:
            readers.append(threading.current_thread())
            read.notify_all()
        return real_load(path)

    def recording_forward(self, tensors):
        if not calls:  # the first batch is with the model: the rest is decoded meanwhile
            with read:
                read.wait_for(lambda: len(readers) == 9, timeout=30)
        calls.append((len(tensors), len(readers)))
        return real_forward(self, tensors)

    monkeypatch.setattr(image_batches, "load_image", counting_load)
    monkeypatch.setattr(Detector, "forward", recording_forward)
    code, _, err = run_cli("detect", nine_files, "--model", "demo-shapes", "--device", "cpu",
                           "--batch-size", "4", "--csv", tmp_path / "out.csv")
    assert code == 1 and "8 images done" in err and "1 failed" in err
    assert "img3.png: not an image" in err
    assert [size for size, _ in calls] == [4, 4]
    assert calls[0][1] == 9  # every file was read while the first batch was in the model
    assert threading.main_thread() not in readers
    rows = (tmp_path / "out.csv").read_text().splitlines()[1:]
    files = [row.split(",")[0].rsplit("/", 1)[-1] for row in rows]
    assert files == sorted(files)  # results in the order of the files
