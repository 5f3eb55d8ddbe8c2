"""Every field of a classifier file checked against clear limits before anything is built
from it: a file that loads safely can still carry metadata that would crash or exhaust
memory (an input size of 20000, a std of 0, an empty normalisation, a tensor where the
state dict belongs). Each check raises CheckpointError naming the file and the field."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 16, 1024  # square side in pixels
MAX_CLASSES = 100_000
MAX_ABS_MEAN, MIN_STD, MAX_STD = 10.0, 1e-6, 1e3


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _triple(norm: dict, key: str, source: str, low: float, high: float) -> tuple[float, float, float]:
    values = norm.get(key)
    if not isinstance(values, (list, tuple)) or len(values) != 3 or not all(_number(v) for v in values):
        raise ValueError(f"{source}: normalisation {key} must be 3 finite numbers (R, G, B), got {values!r:.80}")
    if not all(low <= float(v) <= high for v in values):
        raise ValueError(f"{source}: normalisation {key} must lie from {low:g} to {high:g}, got {list(values)}")
    return tuple(float(v) for v in values)


def check_normalisation(norm: Any, source: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) from the file's normalisation; ValueError with the reason."""
    if not isinstance(norm, dict) or "mean" not in norm or "std" not in norm:
        raise ValueError(f"{source}: normalisation must hold 'mean' and 'std' (3 numbers each), got {norm!r:.80}")
    return (_triple(norm, "mean", source, -MAX_ABS_MEAN, MAX_ABS_MEAN),
            _triple(norm, "std", source, MIN_STD, MAX_STD))


def check_class_names(names: Any, source: str) -> tuple[str, ...]:
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{source}: class_names must be a list of non-empty names, got {names!r:.80}")
    if not 2 <= len(names) <= MAX_CLASSES:
        raise ValueError(f"{source}: a classifier needs from 2 to {MAX_CLASSES} classes, the file names {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: class_names repeat a name")
    return tuple(names)


def check_input_size(size: Any, source: str) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
        raise ValueError(f"{source}: input_size must be a whole number of pixels from {MIN_INPUT_SIZE} to "
                         f"{MAX_INPUT_SIZE}, got {size!r:.40}")
    return size


def check_state_dict(state: Any, source: str) -> dict:
    if not isinstance(state, dict):
        raise ValueError(f"{source}: state_dict must be a dict of tensors, the file holds a {type(state).__name__}")
    if not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{source}: state_dict must be a non-empty dict of named tensors")
    return state


def check_class_count(state: dict, class_names: tuple[str, ...], source: str) -> None:
    """The last layer's outputs match the class names (when the usual `fc` layer is there)."""
    weight = state.get("fc.weight")
    if isinstance(weight, torch.Tensor) and weight.ndim == 2 and weight.shape[0] != len(class_names):
        raise ValueError(f"{source}: the file names {len(class_names)} classes but its last layer (fc) has "
                         f"{weight.shape[0]} outputs; the file is inconsistent")
