"""Model building from the ImageNet cache, freezing, parameter groups, recommendations,
and the augmentation preview."""

import numpy as np
import pytest
import torch

from engine.train import strategies as S
from engine.train.transforms import AugmentConfig, eval_transform, preview_augmentations, to_image_tensor
from engine.weights import WeightsMissing


def test_pretrained_model_loads_the_cached_imagenet_file(imagenet_home):
    model = S.build_model("resnet18", num_classes=4, pretrained=True)
    assert model.fc.out_features == 4
    for key in ("conv1.weight", "layer4.1.bn2.running_var"):
        assert torch.equal(model.state_dict()[key], imagenet_home[key])
    assert S.imagenet_weights_path("resnet18").name == "resnet18-f37072fd.pth"


def test_missing_imagenet_weights_name_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsMissing) as info:
        S.build_model("resnet34", num_classes=2, pretrained=True)
    message = str(info.value)
    assert "resnet34-" in message and str(tmp_path / "hub" / "checkpoints") in message
    S.build_model("resnet18", num_classes=2, pretrained=False)  # scratch needs no file


def test_encode_then_fc_is_the_model():
    model = S.build_model("resnet18", num_classes=3, pretrained=False).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), model.fc(S.encode(model, x)), atol=1e-6)


def test_freezing_keeps_the_encoder_in_eval_mode():
    model = S.build_model("resnet18", num_classes=3, pretrained=False)
    S.set_encoder_frozen(model, True)
    S.set_training_mode(model)
    assert S.encoder_frozen(model)
    assert not model.bn1.training and not model.layer3[0].bn1.training and model.fc.training
    assert all(not p.requires_grad for p in S.encoder_parameters(model)) and model.fc.weight.requires_grad
    S.set_encoder_frozen(model, False)
    S.set_training_mode(model)
    assert model.layer3[0].bn1.training and not S.encoder_frozen(model)


def test_layer_decay_param_groups_reach_the_optimiser():
    model = S.build_model("resnet18", num_classes=3, pretrained=False)
    groups = S.param_groups(model, lr=1e-3, layer_decay=0.5)
    optimizer = S.make_optimizer("adamw", groups, weight_decay=1e-4)
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert list(lrs) == list(S.STAGES)
    assert lrs == pytest.approx({"stem": 1e-3 / 32, "layer1": 1e-3 / 16, "layer2": 1e-3 / 8,
                                 "layer3": 1e-3 / 4, "layer4": 1e-3 / 2, "fc": 1e-3})  # fmt: skip
    covered = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert covered == {id(p) for p in model.parameters()}
    plain = S.make_optimizer("sgd", S.param_groups(model, 1e-3), 0.0)
    assert {g["lr"] for g in plain.param_groups} == {1e-3}


def test_schedules():
    param = torch.nn.Parameter(torch.zeros(1))
    for name, expected in (("step", [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]), ("cosine", None)):
        optimizer = torch.optim.SGD([param], lr=1.0)
        scheduler = S.make_scheduler(name, optimizer, epochs=6)
        seen = []
        for _ in range(6):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        if expected:
            assert seen == pytest.approx(expected)
        else:
            assert seen[0] == 1.0 and all(a > b for a, b in zip(seen, seen[1:]))


def test_recommendation_thresholds():
    assert S.recommend(S.PROBE_FEATURES_BELOW - 1).strategy == "probe-features"
    middle = S.recommend(S.PROBE_FEATURES_BELOW)
    assert middle.strategy == "finetune" and middle.warm_start_epochs > 0 and middle.layer_decay
    large = S.recommend(S.WARM_START_BELOW)
    assert large.strategy == "finetune" and large.warm_start_epochs == 0 and str(S.WARM_START_BELOW) in large.reason
    assert S.recommend(1000, imagenet_weights_available=False).strategy == "scratch"
    assert S.default_lr("finetune", "adamw") * 10 == pytest.approx(S.default_lr("scratch", "adamw"))
    assert S.default_lr("finetune", "sgd") == pytest.approx(1e-3)


def test_augmentation_preview_is_seeded_and_varied():
    image = np.zeros((80, 120, 3), np.uint8)
    image[10:50, 20:70] = (255, 0, 0)
    state = torch.get_rng_state()
    grid = preview_augmentations(image, AugmentConfig(geometric_strength=0.5), image_size=48, count=6, seed=1)
    assert torch.equal(state, torch.get_rng_state())  # the global random state is left alone
    assert len(grid) == 6 and all(g.shape == (48, 48, 3) and g.dtype == np.uint8 for g in grid)
    assert len({g.tobytes() for g in grid}) == 6
    again = preview_augmentations(image, AugmentConfig(geometric_strength=0.5), image_size=48, count=6, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(grid, again))
    plain = preview_augmentations(image, AugmentConfig.off(), image_size=48, count=3)
    assert len({g.tobytes() for g in plain}) == 1


def test_eval_transform_squashes_to_a_normalised_square():
    out = eval_transform(40)(to_image_tensor(np.full((30, 90, 3), 255, np.uint8)))
    assert out.shape == (3, 40, 40) and out.dtype == torch.float32
    assert out[0].mean().item() == pytest.approx((1 - 0.485) / 0.229, rel=1e-3)
