"""Fine-tuning a ResNet classifier on a folder of labelled images (one sub-folder per class).

The usual sequence, for the CLI and the wizard alike:

    report = scan_dataset(folder, val_fraction=0.2, seed=0, progress=cb, cancel=token)
    advice = recommend(report.min_train_per_class, imagenet_weights_available("resnet18"))
    result = train_classifier(report, TrainConfig(strategy=advice.strategy, ...),
                              progress=cb, on_epoch=draw, cancel=token, stop=stop_token)
    path = result.save()          # atomically, into engine.weights.user_models_dir()
"""

from engine.train.checkpoint import (
    CheckpointError,
    ClassifierCheckpoint,
    NotAClassifier,
    load_classifier_file,
    read_metadata,
    save_classifier,
)
from engine.train.dataset import (
    DEFAULT_VAL_FRACTION,
    MIN_IMAGES_PER_CLASS,
    DatasetError,
    DatasetReport,
    Sample,
    scan_dataset,
)
from engine.train.loop import EpochMetrics, FitResult
from engine.train.pipeline import TrainConfig, TrainResult, train_classifier
from engine.train.results import Results
from engine.train.strategies import (
    BACKBONES,
    DEFAULT_EPOCHS,
    OPTIMIZERS,
    PROBE_FEATURES_BELOW,
    SCHEDULES,
    STRATEGIES,
    WARM_START_BELOW,
    Recommendation,
    default_lr,
    imagenet_weights_path,
    recommend,
)
from engine.train.transforms import AugmentConfig, preview_augmentations


def imagenet_weights_available(backbone: str) -> bool:
    return imagenet_weights_path(backbone).is_file()


__all__ = [
    "AugmentConfig", "BACKBONES", "CheckpointError", "ClassifierCheckpoint", "DEFAULT_EPOCHS",
    "DEFAULT_VAL_FRACTION", "MIN_IMAGES_PER_CLASS", "NotAClassifier", "DatasetError", "DatasetReport", "EpochMetrics", "FitResult", "OPTIMIZERS", "PROBE_FEATURES_BELOW",
    "Recommendation", "Results", "SCHEDULES", "STRATEGIES", "Sample", "TrainConfig", "TrainResult",
    "WARM_START_BELOW", "default_lr", "imagenet_weights_available", "imagenet_weights_path",
    "load_classifier_file", "preview_augmentations", "read_metadata", "recommend", "save_classifier",
    "scan_dataset", "train_classifier",
]  # fmt: skip
