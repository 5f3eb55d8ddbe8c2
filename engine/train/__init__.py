"""Fine-tuning a ResNet classifier on a folder of labelled images (one sub-folder per class).

The usual sequence, for the CLI and the wizard alike:

    report = scan_dataset(folder, val_fraction=0.2, seed=0, progress=cb, cancel=token)
    advice = recommend(report.min_train_per_class, imagenet_weights_available("resnet18"))
    result = train_classifier(report, TrainConfig(strategy=advice.strategy, ...),
                              progress=cb, on_epoch=draw, cancel=token, stop=stop_token)
    path = result.save()          # atomically, into engine.weights.user_models_dir()
"""

import importlib

_EXPORTS = {
    "CheckpointError": "engine.train.checkpoint",
    "ClassifierCheckpoint": "engine.train.checkpoint",
    "NotAClassifier": "engine.train.checkpoint",
    "load_classifier_file": "engine.train.checkpoint",
    "read_metadata": "engine.train.checkpoint",
    "save_classifier": "engine.train.checkpoint",
    "DEFAULT_VAL_FRACTION": "engine.train.dataset",
    "MIN_IMAGES_PER_CLASS": "engine.train.dataset",
    "DatasetError": "engine.train.dataset",
    "DatasetReport": "engine.train.dataset",
    "Sample": "engine.train.dataset",
    "scan_dataset": "engine.train.dataset",
    "EpochMetrics": "engine.train.loop",
    "FitResult": "engine.train.loop",
    "TrainConfig": "engine.train.pipeline",
    "TrainResult": "engine.train.pipeline",
    "train_classifier": "engine.train.pipeline",
    "Results": "engine.train.results",
    "AugmentConfig": "engine.train.transforms",
    "preview_augmentations": "engine.train.transforms",
    "BACKBONES": "engine.train.strategies",
    "DEFAULT_EPOCHS": "engine.train.strategies",
    "OPTIMIZERS": "engine.train.strategies",
    "PROBE_FEATURES_BELOW": "engine.train.strategies",
    "SCHEDULES": "engine.train.strategies",
    "STRATEGIES": "engine.train.strategies",
    "WARM_START_BELOW": "engine.train.strategies",
    "Recommendation": "engine.train.strategies",
    "default_lr": "engine.train.strategies",
    "imagenet_weights_path": "engine.train.strategies",
    "recommend": "engine.train.strategies",
}


def __getattr__(name: str):
    """The training API, imported on first use: importing one submodule (the segmenter's file
    reads `engine.train.checkpoint`) loads neither torchvision nor the training code."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.train' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def imagenet_weights_available(backbone: str) -> bool:
    from engine.train.strategies import imagenet_weights_path

    return imagenet_weights_path(backbone).is_file()


__all__ = [*_EXPORTS, "imagenet_weights_available"]
