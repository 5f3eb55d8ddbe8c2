"""A trained segmenter is one file: `torch.save` of a dict of tensors and plain metadata,

    {format: "sightline-segmenter", format_version, name, state_dict,
     architecture: {name: "unet", base, depth, stem_stride}, class_names ("background" first),
     input_size (the working size's longer side), normalisation: {mean, std}, metrics, date,
     background_bias (optional, 0 when absent)}

written atomically like a classifier (engine.train.checkpoint) and read back with
`torch.load(weights_only=True)`, so a file can never run code when it is opened.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from engine import weights as W
from engine.segment.unet import UNet
from engine.train.checkpoint import check_version_and_keys, default_model_path, save_checkpoint

FORMAT = "sightline-segmenter"
FORMAT_VERSION = 1
_REQUIRED = ("state_dict", "architecture", "class_names", "input_size", "normalisation")


class SegmenterFileError(W.WeightsError):
    """A file that is not a usable Sightline segmenter; the message says why."""


@dataclass(frozen=True)
class SegmenterFile:
    state_dict: dict
    architecture: dict  # {"name": "unet", "base", "depth", "stem_stride"}
    class_names: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    metrics: dict = field(default_factory=dict)
    date: str = ""
    name: str = ""
    # added to the background logit before each pixel takes its best class: chosen on the
    # validation images after training (engine.segment.calibrate); 0 in files from before it
    background_bias: float = 0.0
    source: str = field(default="", compare=False)  # the file it was read from, for messages

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name,
            "state_dict": self.state_dict, "architecture": dict(self.architecture),
            "class_names": list(self.class_names), "input_size": int(self.input_size),
            "normalisation": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]},
            "metrics": self.metrics, "date": self.date, "background_bias": float(self.background_bias),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict, source: str) -> "SegmenterFile":
        if data.get("format") != FORMAT:
            kind = f"a '{data['format']}' file" if isinstance(data.get("format"), str) else "plain weights"
            raise SegmenterFileError(f"{source}: not a Sightline segmenter ({kind}); train one with "
                                     "`sightline train-segmenter`")
        check_version_and_keys(data, source, "segmenter", FORMAT_VERSION, _REQUIRED, SegmenterFileError)
        norm = data["normalisation"]
        return cls(
            state_dict=data["state_dict"], architecture=dict(data["architecture"]),
            class_names=tuple(str(n) for n in data["class_names"]), input_size=int(data["input_size"]),
            mean=tuple(float(v) for v in norm["mean"]), std=tuple(float(v) for v in norm["std"]),
            metrics=dict(data.get("metrics") or {}), date=str(data.get("date", "")), name=str(data.get("name", "")),
            background_bias=float(data.get("background_bias", 0.0)), source=source,
        )  # fmt: skip

    def build(self) -> UNet:
        """The network with these weights, in eval mode, on the CPU. Files of every earlier
        default architecture (16 base channels and four poolings before issue 15's change) build
        from the sizes they store; weights that do not fit those sizes are refused."""
        arch, where = self.architecture, f"{self.source}: " if self.source else ""
        if arch.get("name") != "unet":
            raise SegmenterFileError(f"{where}unknown segmenter architecture '{arch.get('name')}'")
        model = UNet(len(self.class_names), int(arch["base"]), int(arch["depth"]), int(arch.get("stem_stride", 1)))
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            first_line = str(exc).splitlines()[0]
            raise SegmenterFileError(f"{where}weights do not fit the stored architecture ({first_line})") from None
        return model.eval()


def make_segmenter_file(model: UNet, class_names, input_size: int, mean, std, metrics: Optional[dict] = None,
                        name: str = "") -> SegmenterFile:
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return SegmenterFile(state, {"name": "unet", **model.config()}, tuple(class_names), int(input_size),
                         tuple(mean), tuple(std), metrics or {},
                         dt.datetime.now().astimezone().isoformat(timespec="seconds"), name)


def save_segmenter(file: SegmenterFile, path: Optional[str | os.PathLike] = None) -> Path:
    """Write atomically to `path` (default: a new file in the user models folder)."""
    return save_checkpoint(file.to_dict(), Path(path) if path else default_model_path(file.name or "segmenter"))


def load_segmenter_file(path: str | os.PathLike) -> SegmenterFile:
    """Read safely (weights_only=True); SegmenterFileError / WeightsError when unusable."""
    return SegmenterFile.from_dict(W.load_weights_file(path), str(path))


def is_segmenter_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a segmenter file, without reading its tensors (memory-mapped)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not a segmenter
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT
