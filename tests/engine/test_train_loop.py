"""Training end to end on tiny synthetic folders (32 px, CPU, one thread): accuracy, the four
strategies' freezing rules, warm start, probe equivalence, reproducibility, early stopping,
stop-and-keep-best and cancellation."""

import numpy as np
import pytest
import torch

from engine.classify import Classifier
from engine.images import load_image
from engine.train import strategies as S
from engine.train.dataset import scan_dataset
from engine.train.loop import fit
from engine.train.pipeline import TrainConfig, train_classifier
from engine.train.synthetic import write_shapes
from engine.train.transforms import AugmentConfig
from engine.types import CancelToken, Cancelled
from engine.weights import user_models_dir

SMALL = dict(image_size=32, batch_size=8, device="cpu", patience=None)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    write_shapes(folder, per_class=8, size=32, seed=5)
    return scan_dataset(folder, seed=0)


def encoder_state(model):
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_scratch_learns_an_easy_three_class_set(tmp_path):
    write_shapes(tmp_path, per_class=30, size=32, seed=0)
    report = scan_dataset(tmp_path, seed=0)
    augment = AugmentConfig(crop_strength=0.3, colour=False, geometric=False)
    config = TrainConfig(strategy="scratch", epochs=6, augment=augment, seed=0, **{**SMALL, "batch_size": 16})
    result = train_classifier(report, config)
    assert result.results.accuracy >= 0.9, result.results.lines()
    assert result.results.confusion.sum() == len(report.val) == 18
    assert result.checkpoint.metrics["val_accuracy"] == result.results.accuracy
    assert [m.epoch for m in result.fit.history] == list(range(1, 7))


def test_probe_frozen_changes_neither_encoder_weights_nor_batchnorm_stats(imagenet_home, tiny, monkeypatch):
    captured = {}
    original = S.build_model

    def spy(*args, **kwargs):
        model = original(*args, **kwargs)
        captured["before"] = encoder_state(model)
        captured["fc"] = model.fc.weight.detach().clone()
        return model

    monkeypatch.setattr(S, "build_model", spy)
    result = train_classifier(tiny, TrainConfig(strategy="probe-frozen", epochs=2, **SMALL))
    after = encoder_state(result.model)
    assert any("running_mean" in k for k in after)
    assert same(captured["before"], after), "the frozen encoder or its BatchNorm statistics changed"
    assert not torch.equal(captured["fc"], result.model.fc.weight)
    assert all(m.encoder_frozen for m in result.fit.history)


def test_finetune_warm_start_unfreezes_at_the_right_epoch(imagenet_home, tiny, monkeypatch):
    snapshots = []
    config = TrainConfig(strategy="finetune", epochs=3, warm_start_epochs=2, layer_decay=0.5, **SMALL)
    original = S.build_model

    def spy(*args, **kwargs):
        model = original(*args, **kwargs)
        snapshots.append(encoder_state(model))
        spy.model = model
        return model

    monkeypatch.setattr(S, "build_model", spy)
    result = train_classifier(tiny, config, on_epoch=lambda m: snapshots.append(encoder_state(spy.model)))
    assert [m.encoder_frozen for m in result.fit.history] == [True, True, False]
    assert same(snapshots[0], snapshots[1]) and same(snapshots[1], snapshots[2])
    assert not same(snapshots[2], snapshots[3])
    assert result.checkpoint.metrics["config"]["layer_decay"] == 0.5


def test_probe_features_matches_the_full_model(imagenet_home, tiny):
    reported = []
    result = train_classifier(tiny, TrainConfig(strategy="probe-features", epochs=5, **SMALL), on_epoch=reported.append)
    assert len(reported) == 5 and all(m.encoder_frozen for m in reported)
    images = [load_image(s.path) for s in tiny.val]
    classifier = Classifier(result.checkpoint, device="cpu")
    probabilities = classifier.probabilities(images)
    logits = result.fit.best_evaluation.logits
    expected = torch.softmax(torch.from_numpy(logits), 1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert (probabilities.argmax(1) == logits.argmax(1)).all()


def test_same_seed_same_metrics(imagenet_home, tiny):
    config = TrainConfig(strategy="finetune", epochs=2, seed=11, balanced=True, **SMALL)
    first = [m.to_dict() for m in train_classifier(tiny, config).fit.history]
    second = [m.to_dict() for m in train_classifier(tiny, config).fit.history]
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(first) == drop(second)


def test_stop_keeps_the_best_epoch_and_cancel_leaves_no_file(imagenet_home, tiny):
    stop = CancelToken()
    result = train_classifier(tiny, TrainConfig(strategy="probe-frozen", epochs=6, **SMALL),
                              on_epoch=lambda m: m.epoch == 2 and stop.cancel(), stop=stop)  # fmt: skip
    assert len(result.fit.history) == 2 and result.fit.stop_reason == "stopped by request"
    cancel, seen = CancelToken(), []

    def progress(p):
        seen.append(p)
        if len(seen) == 3:
            cancel.cancel()

    before = set(user_models_dir().glob("*")) if user_models_dir().exists() else set()
    with pytest.raises(Cancelled):
        config = TrainConfig(strategy="probe-frozen", epochs=6, **SMALL)
        train_classifier(tiny, config, progress=progress, cancel=cancel)
    after = set(user_models_dir().glob("*")) if user_models_dir().exists() else set()
    assert after == before and len(seen) == 3
    assert seen[-1].total >= 6 * 2 and seen[-1].message.startswith("epoch 1/6")


def test_early_stopping_and_best_weights_restored():
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    loader = [(x[:16], y[:16]), (x[16:], y[16:])]
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing improves after epoch 1
    scheduler = S.make_scheduler("cosine", optimizer, 10)
    result = fit(model, loader, loader, optimizer, scheduler, torch.device("cpu"), epochs=10, patience=2)
    assert result.stop_reason == "early stopping" and len(result.history) == 3 and result.best_epoch == 1
    states, model = [], torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)  # a big LR: validation loss jumps about
    result = fit(model, loader, loader[:1], optimizer, S.make_scheduler("step", optimizer, 5),
                 torch.device("cpu"), epochs=5,
                 on_epoch=lambda m: states.append({k: v.clone() for k, v in model.state_dict().items()}))  # fmt: skip
    best = states[result.best_epoch - 1]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
    assert result.best_val_loss == min(m.val_loss for m in result.history)
