"""`sightline train` and `sightline classify` end to end on tiny synthetic folders."""

import csv
import signal
import sys

import pytest
import torch
from torchvision.models import resnet18

from engine.train.strategies import imagenet_weights_path
from engine.train.synthetic import write_shapes

FAST = ["--image-size", "32", "--batch-size", "8", "--device", "cpu"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def imagenet_home(empty_torch_home):
    path = imagenet_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.manual_seed(3)
    torch.save(resnet18(weights=None).state_dict(), path)
    return empty_torch_home


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    write_shapes(folder, per_class=8, size=32, seed=2)
    return folder



def test_bad_folders_exit_2_with_a_message(tmp_path, empty_torch_home, run_cli):
    code, _, err = run_cli("train", tmp_path / "missing", *FAST)
    assert code == 2 and "not a folder" in err and "Traceback" not in err
    write_shapes(tmp_path / "one", per_class=3, size=24, classes=("cats",))
    code, _, err = run_cli("train", tmp_path / "one", *FAST)
    assert code == 2 and "at least two" in err and "Traceback" not in err



def test_bad_options_exit_2(shapes, empty_torch_home, run_cli):
    code, _, err = run_cli("train", shapes, "--strategy", "scratch", "--epochs", "0", *FAST)
    assert code == 2 and "epochs must be at least 1" in err
    code, _, err = run_cli("train", shapes, "--strategy", "scratch", "--warm-start-epochs", "2", *FAST)
    assert code == 2 and "finetune strategy only" in err


def test_missing_imagenet_weights_suggest_scratch(shapes, empty_torch_home, run_cli):
    code, _, err = run_cli("train", shapes, "--strategy", "finetune", *FAST)
    assert code == 2 and "Traceback" not in err
    assert "resnet18-f37072fd.pth" in err and str(empty_torch_home / "hub" / "checkpoints") in err
    assert "--strategy scratch" in err


def test_train_scratch_writes_a_model_and_reports(shapes, tmp_path, empty_torch_home, run_cli):
    out = tmp_path / "out" / "shapes.pt"
    code, stdout, err = run_cli("train", shapes, "--strategy", "scratch", "--epochs", "2", "--out", out, *FAST)
    assert code == 0, err
    assert "3 classes, 18 training and 6 validation images" in stdout
    assert "epoch   1/2" in err and "epoch   2/2" in err
    assert "validation accuracy" in stdout and "confusion matrix" in stdout and f"model written to {out}" in stdout
    assert out.is_file() and torch.load(out, weights_only=True)["strategy"] == "scratch"


def test_recommended_probe_then_classify_with_broken_files(shapes, tmp_path, imagenet_home, run_cli):
    model = tmp_path / "probe.pt"
    code, stdout, err = run_cli("train", shapes, "--epochs", "3", "--out", model, *FAST)
    assert code == 0, err
    assert "strategy: probe-features (recommended" in stdout
    photos = tmp_path / "photos"
    write_shapes(photos, per_class=2, size=40, seed=9)
    (photos / "circle" / "broken.png").write_bytes(b"\x89PNG nope")
    (photos / "notes.txt").write_text("not an image")
    results = tmp_path / "results.csv"
    code, stdout, err = run_cli("classify", photos, "--model", model, "--top-k", "2", "--out", results,
                                "--device", "cpu")
    assert code == 1 and "Traceback" not in err
    assert "6 images classified, 1 skipped (not images), 1 failed" in err
    assert "broken.png" in err and "not an image" in err
    lines = [line for line in stdout.splitlines() if "\t" in line]
    assert len(lines) == 6 and all(line.count(",") == 1 for line in lines)
    rows = list(csv.DictReader(results.open()))
    assert len(rows) == 7 and set(rows[0]) == {"path", "label_1", "probability_1", "label_2", "probability_2", "error"}
    broken = next(r for r in rows if r["path"].endswith("broken.png"))
    assert broken["error"] and not broken["label_1"]
    assert all(r["label_1"] in ("circle", "square", "triangle") for r in rows if not r["error"])


def test_classify_usage_errors(tmp_path, shapes, run_cli):
    code, _, err = run_cli("classify", shapes, "--model", tmp_path / "none.pt", "--device", "cpu")
    assert code == 2 and "none.pt" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("classify", tmp_path / "empty", "--model", tmp_path / "none.pt")
    assert code == 2 and "no images" in err


def test_train_without_folder_opens_the_wizard_or_says_why_not(monkeypatch, run_cli):
    monkeypatch.setitem(sys.modules, "gui.wizard", None)
    code, _, err = run_cli("train")
    assert code == 2 and "wizard" in err


def test_first_ctrl_c_stops_and_keeps_the_best_epoch(shapes, tmp_path, empty_torch_home, monkeypatch, run_cli):
    from engine import console

    real_update, sent, handler = console.ProgressBar.update, [], signal.getsignal(signal.SIGINT)

    def update(self, done, suffix=""):
        real_update(self, done, suffix)
        if self.label == "training" and "epoch 2/" in suffix and not sent:
            sent.append(done)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(console.ProgressBar, "update", update)
    out = tmp_path / "stopped.pt"
    code, stdout, err = run_cli("train", shapes, "--strategy", "scratch", "--epochs", "5", "--out", out, *FAST)
    assert code == 0, err
    assert sent and "stopping after this batch" in err and "(stopped by request)" in stdout
    assert "best epoch 1 of 1" in stdout and out.is_file()
    assert signal.getsignal(signal.SIGINT) is handler


def test_classify_finds_a_user_model_by_name(tmp_path, monkeypatch, run_cli):
    from engine.train import checkpoint as C
    from engine.train import strategies as S

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    model = S.build_model("resnet18", 2, pretrained=False)
    checkpoint = C.make_checkpoint(model, "resnet18", ("a", "b"), 32, (0.5,) * 3, (0.25,) * 3, "scratch", {}, "ab")
    C.save_classifier(checkpoint, tmp_path / "home" / "models" / "ab-20260101-000000.pt")
    write_shapes(tmp_path / "photos", per_class=1, size=24, classes=("x",))
    code, stdout, err = run_cli("classify", tmp_path / "photos", "--model", "ab", "--device", "cpu", "--top-k", "5")
    assert code == 0, err
    assert "000.png\t" in stdout and stdout.count(",") == 1  # top-k capped at the two classes
