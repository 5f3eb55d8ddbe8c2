"""`sightline train --out`: an unwritable location is refused before training, and a model
that cannot be written where asked at the end is kept in the user models folder."""

from pathlib import Path

import pytest
import torch

from engine.commands import train as train_command
from engine.train.synthetic import write_shapes

FAST = ["--strategy", "scratch", "--epochs", "1", "--image-size", "32", "--batch-size", "8", "--device", "cpu"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    write_shapes(folder, per_class=4, size=32, seed=5)
    return folder


def test_an_unwritable_out_is_refused_before_training(shapes, tmp_path, monkeypatch, run_cli):
    monkeypatch.setattr(train_command, "train_classifier", lambda *a, **k: pytest.fail("trained anyway"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out in (blocker / "model.pt", Path("/sys/model.pt")):
        code, _, err = run_cli("train", shapes, "--out", out, *FAST)
        assert code == 2 and str(out.parent) in err and "Traceback" not in err
    image = next(shapes.rglob("*.png"))
    before = image.read_bytes()
    code, _, err = run_cli("train", shapes, "--out", image, *FAST)
    assert code == 2 and "input" in err and image.read_bytes() == before


def test_a_model_that_cannot_be_written_at_the_end_is_kept(shapes, tmp_path, monkeypatch, run_cli):
    home = tmp_path / "home"
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    folder = tmp_path / "models"
    folder.mkdir()
    real = train_command.train_classifier

    def train_then_lose_the_folder(*args, **kwargs):
        result = real(*args, **kwargs)
        folder.rmdir()
        folder.write_text("the folder became a file while training")
        return result

    monkeypatch.setattr(train_command, "train_classifier", train_then_lose_the_folder)
    code, stdout, err = run_cli("train", shapes, "--out", folder / "shapes.pt", *FAST)
    kept = list((home / "models").glob("*-shapes.pt"))
    assert code == 1 and len(kept) == 1, err
    assert str(kept[0]) in err and str(folder / "shapes.pt") in err and "Traceback" not in err
    assert f"model written to {kept[0]}" in stdout
    assert torch.load(kept[0], weights_only=True)["strategy"] == "scratch"
