"""Model files that load safely but are wrong: every classifier field is checked with a clear
limit, and every weights-file message names the file and says what is wrong."""

from __future__ import annotations

import pickle

import pytest
import torch

from engine.train import checkpoint as C
from engine.train import strategies as S
from engine.weights import WeightsError, load_state_dict_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def good():
    torch.manual_seed(0)
    model = S.build_model("resnet18", 3, pretrained=False)
    return C.make_checkpoint(model, "resnet18", ("cat", "dog", "fox"), 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                             "scratch", {}, "pets").to_dict()


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("pictures") / "p.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path)
    return path


def _bad(good, **changes) -> dict:
    data = dict(good)
    data.update(changes)
    return data


BAD_FIELDS = {
    "input_size 20000": ({"input_size": 20000}, "input_size must be a whole number of pixels from 16 to 1024"),
    "input_size text": ({"input_size": "big"}, "input_size must be"),
    "std 0": ({"normalisation": {"mean": [0.5] * 3, "std": [0.0, 0.2, 0.2]}}, "std must lie from"),
    "std nan": ({"normalisation": {"mean": [0.5] * 3, "std": [float("nan")] * 3}}, "std must be 3 finite numbers"),
    "normalisation {}": ({"normalisation": {}}, "normalisation must hold 'mean' and 'std'"),
    "a tensor as state_dict": ({"state_dict": torch.zeros(3)}, "state_dict must be a dict of tensors"),
    "one class": ({"class_names": ["cat"]}, "needs from 2 to"),
    "class count": ({"class_names": ["cat", "dog", "fox", "owl", "emu"]},
                    "names 5 classes but its last layer (fc) has 3 outputs"),
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_classify_with_a_bad_field_is_a_clear_usage_error(good, picture, tmp_path, run_cli, case):
    changes, message = BAD_FIELDS[case]
    path = tmp_path / "bad.pt"
    torch.save(_bad(good, **changes), path)
    code, _, err = run_cli("classify", picture, "--model", path, "--device", "cpu")
    assert code == 2 and "Traceback" not in err, err
    assert str(path) in err and message in err


def test_other_layer_mismatches_say_which_tensor(good, tmp_path):
    from engine.classify import Classifier

    state = dict(good["state_dict"])
    state["layer1.0.conv1.weight"] = torch.zeros(2, 2, 3, 3)
    path = tmp_path / "odd.pt"
    torch.save(_bad(good, state_dict=state), path)
    with pytest.raises(WeightsError, match=r"odd.pt: weights do not fit resnet18 \(size mismatch for layer1.0.conv1"):
        Classifier(path, device="cpu")


def test_weights_file_messages_name_the_file_and_the_problem(tmp_path):
    cases = {
        "plain.pth": (pickle.dumps({"fc.weight": [1.0, 2.0]}), "plain Python pickle, not PyTorch weights: refused"),
        "empty.pth": (b"", "the file is empty (0 bytes)"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WeightsError) as caught:
            load_state_dict_file(tmp_path / name)
        assert str(caught.value).startswith(f"{tmp_path / name}: ")
        assert message in str(caught.value)
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "notes.pth")
    with pytest.raises(WeightsError, match=f"{tmp_path / 'notes.pth'}: holds no tensors"):
        load_state_dict_file(tmp_path / "notes.pth")


def test_classify_out_onto_an_input_is_refused(picture, tmp_path, run_cli):
    before = picture.read_bytes()
    code, _, err = run_cli("classify", picture, "--model", tmp_path / "never-read.pt", "--out", picture)
    assert code == 2 and "input" in err and picture.read_bytes() == before
