"""Weights: torchvision's cache path under TORCH_HOME, import, safe loading, downloads."""

import hashlib
import os

import numpy as np
import pytest
import torch
from torchvision.models import get_model_weights

from engine import models
from engine import weights as W
from engine.demo.scenes import make_scene
from engine.detect import Detector
from engine.types import CancelToken, Cancelled

FAST_MODEL = "fasterrcnn_mobilenet_v3_large_fpn"


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home"


def test_missing_weights_name_the_file_and_the_folder(torch_home):
    spec = models.get_spec(FAST_MODEL)
    assert spec.weight_status().state == "missing"
    with pytest.raises(W.WeightsMissing) as info:
        Detector(FAST_MODEL, device="cpu")
    message = str(info.value)
    assert "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth" in message
    assert str(torch_home / "hub" / "checkpoints") in message


def test_state_dict_at_the_torchvision_cache_path_is_used(torch_home, mobilenet_state_file):
    spec = models.get_spec(FAST_MODEL)
    target = torch_home / "hub" / "checkpoints" / "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(mobilenet_state_file.read_bytes())
    status = spec.weight_status()
    assert status.state == "cached" and status.path == target
    # torchvision's own API finds the same file without any download
    tv_state = get_model_weights(FAST_MODEL).DEFAULT.get_state_dict(progress=False)
    assert set(tv_state) == set(torch.load(target, weights_only=True))
    detector = Detector(FAST_MODEL, device="cpu", size=240)
    result = detector.predict([make_scene(3).image])[0]
    assert result.class_names[1] == "person" and "toothbrush" in result.class_names
    assert result.masks is None and result.keypoints is None


def test_import_places_the_file_where_torchvision_looks(torch_home, mobilenet_state_file):
    name, path = models.import_weights(mobilenet_state_file)
    assert name == FAST_MODEL
    assert path == W.cache_path_for_url(get_model_weights(FAST_MODEL).DEFAULT.url)
    assert models.get_spec(FAST_MODEL).weight_status().state == "cached"


def test_import_refuses_weights_of_another_model(torch_home, tmp_path):
    from torchvision.models import resnet18

    path = tmp_path / "resnet18.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    with pytest.raises(W.WeightsError, match="fit none of the models"):
        models.import_weights(path, FAST_MODEL)
    assert not any((torch_home / "hub").rglob("*.pth"))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": _Evil(marker)}, path)
    with pytest.raises(W.WeightsError, match="refused"):
        W.load_weights_file(path)
    assert not marker.exists()


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "photo.pth"
    path.write_bytes(b"\x89PNG not weights")
    with pytest.raises(W.WeightsError, match="not a readable PyTorch weights file"):
        W.load_weights_file(path)


def _served_file(tmp_path, size=3 * 2**20):
    source = tmp_path / "served.bin"
    source.write_bytes(np.random.default_rng(0).bytes(size))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    return source, digest


def test_download_reports_progress_and_verifies(tmp_path):
    source, digest = _served_file(tmp_path)
    seen = []
    target = W.download(source.as_uri(), tmp_path / "cache" / f"model-{digest}.pth", progress=seen.append)
    assert target.read_bytes() == source.read_bytes()
    assert seen[-1].done == seen[-1].total == source.stat().st_size and len(seen) >= 3


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path):
    source, _ = _served_file(tmp_path)
    target = tmp_path / "cache" / "model-deadbeef.pth"
    with pytest.raises(W.WeightsError, match="checksum"):
        W.download(source.as_uri(), target)
    assert list(target.parent.iterdir()) == []


def test_cancelled_download_leaves_nothing(tmp_path):
    source, digest = _served_file(tmp_path)
    token = CancelToken()
    target = tmp_path / "cache" / f"model-{digest}.pth"
    with pytest.raises(Cancelled):
        W.download(source.as_uri(), target, progress=lambda p: token.cancel(), cancel=token)
    assert list(target.parent.iterdir()) == []


def test_offline_first_use_explains_where_the_file_goes(torch_home, monkeypatch):
    def offline(url, *args, **kwargs):
        raise W.WeightsError(f"could not download {url}: Name or service not known")

    monkeypatch.setattr(W, "download", offline)
    with pytest.raises(W.WeightsMissing) as info:
        models.ensure_weights("persons")
    assert "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth" in str(info.value)
    assert "Name or service not known" in str(info.value)


def test_default_model_falls_back_to_the_bundled_demo(torch_home):
    assert models.default_model_name() == models.DEMO_MODEL
    assert models.get_spec(models.DEMO_MODEL).weight_status().state == "bundled"


def test_categories_come_from_torchvision_meta():
    spec = models.get_spec("maskrcnn_resnet50_fpn_v2")
    assert spec.categories == tuple(get_model_weights(spec.name).DEFAULT.meta["categories"])
    persons = models.get_spec("persons")
    assert persons.keypoint_names[0] == "nose" and len(persons.keypoint_names) == 17
    assert persons.outputs == {"boxes", "masks", "keypoints"}
