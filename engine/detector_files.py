"""Fine-tuned detector files as models: each file written by `sightline train-detector`
becomes a `ModelSpec` beside the registry's, so `sightline models`, the window's model picker,
`sightline detect --model` and the review store treat it like any other model.

A file in the user models folder is named by its file name without `.pt`; any other file by
its absolute path. Only the metadata is read to list a file (memory-mapped, no tensors); the
architecture is rebuilt from the file's base model with its class-specific layers resized.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import weights as W
from engine.train.checkpoint import CheckpointError
from engine.train.detector_checkpoint import read_detector_metadata

SUFFIX = ".pt"
_cache: dict[tuple, object] = {}


def _build(base: str, class_count: int, keypoint_count: int, input_scale: dict):
    from engine import models
    from engine.train.detection_model import resize_heads

    model = models.get_spec(base).build()
    old = model.roi_heads.keypoint_predictor
    sources = None if old is None or old.out_channels == keypoint_count else [None] * keypoint_count
    resize_heads(model, class_count, sources)
    transform = model.transform
    if input_scale.get("min_size"):
        transform.min_size, transform.max_size = (int(input_scale["min_size"]),), int(input_scale["max_size"])
    if hasattr(transform, "native") and "native" in input_scale:
        transform.native = bool(input_scale["native"])
    return model


def spec_from_file(path: Path, name: str | None = None):
    """The ModelSpec of a detector file (cached while the file is unchanged); NotADetector or
    CheckpointError when it is not one."""
    from engine import models

    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, name)
    if key in _cache:
        return _cache[key]
    meta = read_detector_metadata(path)
    base = models.get_spec(meta["base"])
    label = meta["name"] or path.stem
    new = [c for c in meta["class_names"] if c not in base.categories]
    title = f"{label} (fine-tuned {meta['base']}" + (f", adds {', '.join(new[:3])}" if new else "") + ")"
    spec = models.ModelSpec(
        name=name or str(path), title=title, outputs=frozenset(meta["outputs"]),
        build=lambda: _build(meta["base"], len(meta["class_names"]), len(meta["keypoint_names"]), meta["input_scale"]),
        skeleton=meta["skeleton"], categories_override=meta["class_names"],
        keypoint_names_override=meta["keypoint_names"], weights_file=path, base=meta["base"],
    )  # fmt: skip
    _cache[key] = spec
    return spec


def find_spec(name: str):
    """The spec of `name` (a file in the user models folder without `.pt`, or a path to a
    detector file), or None when it names neither."""
    in_folder = W.user_models_dir() / f"{name}{SUFFIX}"
    if os.sep not in name and "/" not in name and in_folder.is_file():
        try:
            return spec_from_file(in_folder, name)
        except (CheckpointError, OSError):
            return None
    path = Path(name)
    if not path.is_file():
        return None
    try:
        return spec_from_file(path)
    except (CheckpointError, OSError):
        return None


def user_detector_specs(folder: Path | None = None) -> list:
    """The detector files in the user models folder, newest first (classifiers and unreadable
    files are left out: they are not detectors)."""
    folder = Path(folder) if folder else W.user_models_dir()
    if not folder.is_dir():
        return []
    files = sorted((p for p in folder.iterdir() if p.suffix == SUFFIX and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime_ns, reverse=True)
    specs = []
    for path in files:
        try:
            specs.append(spec_from_file(path, path.stem))
        except (CheckpointError, OSError):
            continue
    return specs
