"""Engine test fixtures shared by the training tests."""

import pytest
import torch
from torchvision.models import resnet18

from engine import models
from engine.train import strategies as S

FAST_MODEL = "fasterrcnn_mobilenet_v3_large_fpn"


@pytest.fixture(scope="module")
def imagenet_home(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds a (random) resnet18 state dict where torchvision
    looks for the ImageNet weights; yields that state dict."""
    home = tmp_path_factory.mktemp("torch-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(home))
    path = S.imagenet_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.manual_seed(123)
    state = resnet18(weights=None).state_dict()
    torch.save(state, path)
    yield state
    mp.undo()


@pytest.fixture(scope="module")
def mobilenet_state_file(tmp_path_factory):
    """A (random) state dict of the smallest registry detector, saved as a .pth file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pth"
    torch.save(models.get_spec(FAST_MODEL).build().state_dict(), path)
    return path


@pytest.fixture
def sightline_models(tmp_path, monkeypatch):
    """An empty user models folder under a private SIGHTLINE_HOME."""
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "models"
    folder.mkdir(parents=True)
    return folder
