"""Training from scratch on small data: steps not epochs, the images' own size when small, a
learning-rate warm-up, early stopping stretched to the run; what the user sets is kept."""

from __future__ import annotations

import pytest
import torch

from engine.train import strategies as S
from engine.train.dataset import scan_dataset
from engine.train.pipeline import TrainConfig
from engine.train.scratch import SCRATCH_STEPS, image_size_for
from engine.train.synthetic import write_stripes


@pytest.fixture(scope="module")
def stripes(tmp_path_factory):
    """120 stripe textures of 64 px, three orientations: 96 training, 24 validation images."""
    folder = tmp_path_factory.mktemp("scratch") / "stripes"
    write_stripes(folder, 40, seed=0)
    return scan_dataset(folder, val_fraction=0.2, seed=0)


def test_scratch_counts_steps_and_trains_small_images_small(stripes):
    config = TrainConfig(strategy="scratch").resolved(stripes)
    assert len(stripes.train) == 96 and config.epochs * 3 == SCRATCH_STEPS  # 3 batches of 32 per epoch
    assert config.image_size == 64  # not blown up to 224
    assert config.warmup_epochs == 5 and config.patience == 25  # a twentieth and a quarter of the run


def test_what_the_user_sets_is_kept_and_other_strategies_are_unchanged(stripes):
    mine = TrainConfig(strategy="scratch", epochs=7, image_size=128, warmup_epochs=0).resolved(stripes)
    assert (mine.epochs, mine.image_size, mine.warmup_epochs, mine.patience) == (7, 128, 0, 5)
    finetune = TrainConfig(strategy="finetune").resolved(stripes)
    assert (finetune.epochs, finetune.image_size, finetune.warmup_epochs) == (15, 224, 0)


def test_large_images_keep_the_usual_size():
    assert image_size_for(30) == 32 and image_size_for(64) == 64 and image_size_for(65) == 96
    assert image_size_for(400) == 224 and image_size_for(None) == 224


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_warm_up_rises_then_the_schedule_decays(schedule):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = S.make_scheduler(schedule, optimizer, epochs=12, warmup_epochs=3)
    lrs = []
    for _ in range(12):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[-1] < 0.1 and all(a >= b for a, b in zip(lrs[3:], lrs[4:]))
