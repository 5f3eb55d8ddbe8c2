"""A trained classifier is one file: `torch.save` of a dict of tensors and plain metadata,

    {format, format_version, name, state_dict, architecture, class_names, input_size,
     normalisation: {mean, std}, strategy, metrics, date}

written atomically (a temporary file in the same folder, then os.replace) and read back with
`torch.load(weights_only=True)`, so a crash never leaves half a model and a file can never
run code when it is opened.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from engine import weights as W
from engine.train import checkpoint_fields as F
from engine.leftovers import remove_stale

FORMAT = "sightline-classifier"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".pt"
_REQUIRED = ("state_dict", "architecture", "class_names", "input_size", "normalisation")


class CheckpointError(W.WeightsError):
    """A file that is not a usable Sightline classifier; the message says why."""


class WrongFormat(CheckpointError):
    """A readable model file of another kind (a classifier where a detector was wanted...)."""


class NotAClassifier(WrongFormat):
    """A readable weights file that is something else (e.g. a detector's weights)."""


def check_format(data: dict, source: str, tag: str, newest: int, required, wrong=WrongFormat) -> int:
    """The format version of a checkpoint dict tagged `tag`; `wrong` when it has another tag,
    CheckpointError when it is newer than `newest` or lacks a `required` key."""
    kind = tag.removeprefix("sightline-")
    if data.get("format") != tag:
        raise wrong(f"{source}: not a Sightline {kind} (no '{tag}' format tag)")
    return check_version_and_keys(data, source, kind, newest, required, CheckpointError)


@dataclass(frozen=True)
class ClassifierCheckpoint:
    state_dict: dict
    architecture: str  # torchvision model name, e.g. "resnet18"
    class_names: tuple[str, ...]
    input_size: int  # square side in pixels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    strategy: str = ""
    metrics: dict = field(default_factory=dict)
    date: str = ""  # ISO 8601, local time with offset
    name: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "format_version": self.format_version, "name": self.name,
            "state_dict": self.state_dict, "architecture": self.architecture,
            "class_names": list(self.class_names), "input_size": int(self.input_size),
            "normalisation": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]},
            "strategy": self.strategy, "metrics": self.metrics, "date": self.date,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict, source: str = "checkpoint") -> "ClassifierCheckpoint":
        version = check_format(data, source, FORMAT, FORMAT_VERSION, _REQUIRED, NotAClassifier)
        try:
            state = F.check_state_dict(data["state_dict"], source)
            class_names = F.check_class_names(data["class_names"], source)
            F.check_class_count(state, class_names, source)
            input_size = F.check_input_size(data["input_size"], source)
            mean, std = F.check_normalisation(data["normalisation"], source)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        return cls(
            state_dict=state, architecture=str(data["architecture"]),
            class_names=class_names, input_size=input_size, mean=mean, std=std,
            strategy=str(data.get("strategy", "")), metrics=dict(data.get("metrics") or {}),
            date=str(data.get("date", "")), name=str(data.get("name", "")), format_version=version,
        )  # fmt: skip


def check_version_and_keys(data: dict, source: str, kind: str, newest: int, required, error: type) -> int:
    """The file's format version; `error` when it is newer than `newest` or lacks a `required` key."""
    version = data.get("format_version")
    if not isinstance(version, int) or version > newest:
        raise error(f"{source}: {kind} format {version} is newer than this Sightline understands ({newest}); "
                    "update Sightline")
    missing = [k for k in required if k not in data]
    if missing:
        raise error(f"{source}: {kind} file lacks {', '.join(missing)}")
    return version


def make_checkpoint(
    model: nn.Module,
    architecture: str,
    class_names,
    input_size: int,
    mean,
    std,
    strategy: str,
    metrics: Optional[dict] = None,
    name: str = "",
) -> ClassifierCheckpoint:
    """A checkpoint of `model`'s current weights (float32, on the CPU), dated now."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return ClassifierCheckpoint(
        state_dict=state, architecture=architecture, class_names=tuple(class_names),
        input_size=int(input_size), mean=tuple(mean), std=tuple(std), strategy=strategy,
        metrics=metrics or {}, date=dt.datetime.now().astimezone().isoformat(timespec="seconds"), name=name,
    )  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "classifier"


def default_model_path(name: str, folder: Optional[Path] = None) -> Path:
    """A new file name in `folder` (default: the user models folder) that does not exist yet."""
    folder = Path(folder) if folder else W.user_models_dir()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{_slug(name)}-{stamp}"
    path, counter = folder / f"{base}{MODEL_SUFFIX}", 2
    while path.exists():
        path, counter = folder / f"{base}-{counter}{MODEL_SUFFIX}", counter + 1
    return path


def save_checkpoint(data: dict, target: Path) -> Path:
    """`torch.save` a checkpoint dict to `target` atomically: a temporary file in the same
    folder, flushed to disk, then renamed over the target (classifiers and detectors alike)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent, f".{glob.escape(target.name)}.*.tmp")  # what a killed earlier run left
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target




def save_classifier(checkpoint: ClassifierCheckpoint, path: Optional[str | os.PathLike] = None) -> Path:
    """Write `checkpoint` to `path` (default: a new file in the user models folder) atomically."""
    target = Path(path) if path else default_model_path(checkpoint.name or checkpoint.architecture)
    return save_checkpoint(checkpoint.to_dict(), target)


def load_classifier_file(path: str | os.PathLike) -> ClassifierCheckpoint:
    """Read a classifier file safely (weights_only=True); CheckpointError/WeightsError if unusable."""
    return ClassifierCheckpoint.from_dict(W.load_weights_file(path), str(path))


def read_tagged_metadata(path: str | os.PathLike, tag: str = FORMAT) -> dict:
    """A checkpoint file's metadata without reading its tensors into memory (memory-mapped);
    WrongFormat when it is a readable file of another kind (its format tag is not `tag`)."""
    kind = tag.removeprefix("sightline-")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointError(f"{path}: not a readable {kind} file ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(data, dict) or data.get("format") != tag:
        raise WrongFormat(f"{path}: not a Sightline {kind}")
    return {k: v for k, v in data.items() if k != "state_dict"}


def read_metadata(path: str | os.PathLike) -> dict:
    """A classifier file's metadata without reading its tensors into memory (memory-mapped)."""
    try:
        return read_tagged_metadata(path, FORMAT)
    except WrongFormat as exc:
        raise NotAClassifier(str(exc)) from None
