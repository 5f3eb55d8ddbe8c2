"""The classifier file: one dict of tensors and plain metadata, written atomically, read back
with weights_only=True, listed for the app's model list."""

import os

import pytest
import torch

from engine.classify import list_user_classifiers
from engine.train import checkpoint as C
from engine.train import strategies as S


def make(name="pets", accuracy=0.75, classes=("cat", "dog", "fox")):
    torch.manual_seed(0)
    model = S.build_model("resnet18", len(classes), pretrained=False)
    metrics = {"val_accuracy": accuracy, "history": [{"epoch": 1, "val_loss": 0.5}], "confusion": [[1, 0], [0, 1]]}
    return C.make_checkpoint(model, "resnet18", classes, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                             "finetune", metrics, name)  # fmt: skip


def test_saved_file_loads_with_weights_only(tmp_path):
    checkpoint = make()
    path = C.save_classifier(checkpoint, tmp_path / "pets.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == C.FORMAT and raw["format_version"] == C.FORMAT_VERSION
    assert raw["class_names"] == ["cat", "dog", "fox"] and raw["architecture"] == "resnet18"
    assert raw["normalisation"] == {"mean": [0.5] * 3, "std": [0.25] * 3} and raw["input_size"] == 32
    assert raw["strategy"] == "finetune" and raw["metrics"]["val_accuracy"] == 0.75 and raw["date"]
    loaded = C.load_classifier_file(path)
    assert loaded.class_names == checkpoint.class_names and loaded.name == "pets"
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in checkpoint.state_dict.items())
    assert os.listdir(tmp_path) == ["pets.pt"]


def test_a_crash_while_writing_leaves_no_file(tmp_path, monkeypatch):
    real_save = torch.save

    def crash(obj, handle, *a, **kw):
        handle.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        C.save_classifier(make(), tmp_path / "pets.pt")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(torch, "save", real_save)


def test_default_path_is_a_new_file_in_the_user_models_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    first = C.save_classifier(make("my pets!"))
    second = C.save_classifier(make("my pets!"))
    assert first.parent == tmp_path / "models" and first != second
    assert first.name.startswith("my-pets-") and first.suffix == ".pt"


def test_other_files_are_refused_clearly(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "detector.pt")
    with pytest.raises(C.NotAClassifier, match="not a Sightline classifier"):
        C.load_classifier_file(tmp_path / "detector.pt")
    data = make().to_dict()
    data["format_version"] = C.FORMAT_VERSION + 1
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(C.CheckpointError, match="newer"):
        C.load_classifier_file(tmp_path / "future.pt")


def test_list_user_classifiers(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    assert list_user_classifiers() == []
    folder = tmp_path / "models"
    C.save_classifier(make("pets", 0.9), folder / "pets.pt")
    C.save_classifier(make("birds", 0.6, ("owl", "tit")), folder / "birds.pt")
    torch.save({"w": torch.zeros(1)}, folder / "detector.pt")  # not a classifier: not listed
    (folder / "broken.pt").write_bytes(b"garbage")
    infos = list_user_classifiers()
    assert [i.path.name for i in infos][-1] == "broken.pt" and infos[-1].error
    good = {i.name: i for i in infos if not i.error}
    assert set(good) == {"pets", "birds"}
    assert good["birds"].class_names == ("owl", "tit") and good["pets"].accuracy == pytest.approx(0.9)
    assert good["pets"].architecture == "resnet18" and good["pets"].input_size == 32 and good["pets"].size_bytes > 0
