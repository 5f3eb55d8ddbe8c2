"""A fine-tuned detector is one file, in the same conventions as a classifier
(`engine.train.checkpoint`): `torch.save` of a dict of tensors and plain metadata,

    {format: "sightline-detector", format_version, name, state_dict, base, class_names,
     keypoint_names, skeleton, outputs, input_scale: {min_size, max_size, native},
     metrics, training, date}

written atomically and read back with `torch.load(weights_only=True)`. `base` is the registry
architecture it was built from (`demo-shapes`, `maskrcnn_resnet50_fpn_v2`, ...); the class-
specific layers are sized by `class_names` (background first) and `keypoint_names`, so the
file alone rebuilds the model (`engine.models` lists it beside the registry models).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from engine import weights as W
from engine.train.checkpoint import (
    WrongFormat,
    check_format,
    default_model_path,
    read_tagged_metadata,
    save_checkpoint,
)

FORMAT = "sightline-detector"
FORMAT_VERSION = 1
_REQUIRED = ("state_dict", "base", "class_names", "outputs")


class NotADetector(WrongFormat):
    """A readable model file of another kind (e.g. a classifier)."""


@dataclass(frozen=True)
class DetectorCheckpoint:
    state_dict: dict
    base: str  # registry architecture, e.g. "demo-shapes"
    class_names: tuple[str, ...]  # index 0 is the background
    outputs: tuple[str, ...]  # of "boxes", "masks", "keypoints"
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    input_scale: dict = field(default_factory=dict)  # min_size, max_size, native
    metrics: dict = field(default_factory=dict)  # before / after held-out evaluation, history
    training: dict = field(default_factory=dict)  # the settings and data it was trained with
    date: str = ""
    name: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "format_version": self.format_version, "name": self.name,
            "state_dict": self.state_dict, "base": self.base, "class_names": list(self.class_names),
            "outputs": list(self.outputs), "keypoint_names": list(self.keypoint_names),
            "skeleton": [list(pair) for pair in self.skeleton], "input_scale": dict(self.input_scale),
            "metrics": self.metrics, "training": self.training, "date": self.date,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict, source: str = "checkpoint") -> DetectorCheckpoint:
        meta = check_metadata(data, source)
        return cls(state_dict=data["state_dict"], **meta)


def check_metadata(data: dict, source: str) -> dict:
    """The constructor arguments (all but the state dict) of a detector file's dict, checked."""
    version = check_format(data, source, FORMAT, FORMAT_VERSION, _REQUIRED, NotADetector)
    return dict(
        base=str(data["base"]), class_names=tuple(str(n) for n in data["class_names"]),
        outputs=tuple(str(o) for o in data["outputs"]), keypoint_names=tuple(str(n) for n in data.get("keypoint_names") or ()),
        skeleton=tuple((int(a), int(b)) for a, b in data.get("skeleton") or ()), input_scale=dict(data.get("input_scale") or {}),
        metrics=dict(data.get("metrics") or {}), training=dict(data.get("training") or {}),
        date=str(data.get("date", "")), name=str(data.get("name", "")), format_version=version,
    )  # fmt: skip


def input_scale_of(model: nn.Module) -> dict:
    transform = model.transform
    sizes = transform.min_size
    return {"min_size": int(sizes[-1] if isinstance(sizes, (tuple, list)) else sizes),
            "max_size": int(transform.max_size), "native": bool(getattr(transform, "native", False))}


def make_checkpoint(model: nn.Module, base: str, class_names, outputs, keypoint_names=(), skeleton=(),
                    metrics: dict | None = None, training: dict | None = None, name: str = "") -> DetectorCheckpoint:
    """A checkpoint of `model`'s current weights (on the CPU), dated now."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return DetectorCheckpoint(
        state_dict=state, base=base, class_names=tuple(class_names), outputs=tuple(outputs),
        keypoint_names=tuple(keypoint_names), skeleton=tuple(skeleton), input_scale=input_scale_of(model),
        metrics=metrics or {}, training=training or {},
        date=dt.datetime.now().astimezone().isoformat(timespec="seconds"), name=name,
    )  # fmt: skip


def save_detector(checkpoint: DetectorCheckpoint, path: str | os.PathLike | None = None) -> Path:
    """Write `checkpoint` to `path` (default: a new dated file in the user models folder)."""
    target = Path(path) if path else default_model_path(checkpoint.name or f"{checkpoint.base}-finetuned")
    return save_checkpoint(checkpoint.to_dict(), target)


def load_detector_file(path: str | os.PathLike) -> DetectorCheckpoint:
    """Read a detector file safely (weights_only=True); CheckpointError/WeightsError if unusable."""
    return DetectorCheckpoint.from_dict(W.load_weights_file(path), str(path))


def read_detector_metadata(path: str | os.PathLike) -> dict:
    """A detector file's checked metadata without reading its tensors (memory-mapped)."""
    try:
        data = read_tagged_metadata(path, FORMAT)
    except WrongFormat as exc:
        raise NotADetector(str(exc)) from None
    return check_metadata(dict(data, state_dict=None), str(path))
