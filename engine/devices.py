"""Choosing where models run: CUDA, then Apple MPS, then the CPU, or what the user forces."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(Exception):
    """A device was asked for that this machine does not have."""


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cpu", "cuda:0", "mps"
    description: str  # for people: "NVIDIA H200 (139 GiB)", "CPU (2 threads)"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(choice: str = "auto") -> torch.device:
    """`auto` picks cuda > mps > cpu; `cpu`, `cuda`, `cuda:N`, `mps` are checked and forced."""
    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was asked for, but no CUDA GPU is available on this machine")
        device = torch.device(choice)
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceError(f"{choice}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    if choice == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS was asked for, but it is not available on this machine")
        return torch.device("mps")
    raise DeviceError(f"unknown device '{choice}': use one of auto, cpu, cuda, cuda:N, mps")


def describe(device: torch.device) -> DeviceInfo:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        gib = props.total_memory / 2**30
        return DeviceInfo(str(device), f"{props.name} ({gib:.0f} GiB)")
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU (MPS)")
    return DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)")


def autocast_context(device: torch.device, enabled: bool = True):
    """Half-precision autocast on CUDA (float16); a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def is_out_of_memory(exc: BaseException) -> bool:
    """Out of GPU memory, or (on the CPU) an allocation the system refused."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        words in text for words in ("out of memory", "not enough memory", "can't allocate memory"))


def free_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def peak_memory_bytes(device: torch.device) -> int:
    """Peak accelerator memory on CUDA; peak resident memory of the process elsewhere."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def free_memory_bytes(device: torch.device) -> Optional[int]:
    """Memory a model call may take now without the system swapping: free GPU memory plus
    what torch's cache holds unused on CUDA; elsewhere the RAM the kernel reports available
    (Linux `MemAvailable`). None where it cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
