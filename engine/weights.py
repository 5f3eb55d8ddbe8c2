"""Where model weights come from: torchvision's hub cache, a download, the bundled demo model,
or a file the user imports. Every file is read with `torch.load(weights_only=True)`: a
checkpoint is data, and a file that would run code when unpickled is refused."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

import torch

from engine.leftovers import remove_stale
from engine.outputs import describe_os_error
from engine.paths import data_dir
from engine.resources import resource
from engine.types import CancelToken, Cancelled, Progress, ProgressCallback

BUNDLED_MODELS_DIR = resource("models")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")


class WeightsError(Exception):
    """A weights file that is missing, unreadable, unsafe, or for another model."""


class WeightsMissing(WeightsError):
    def __init__(self, model: str, path: Path, reason: str = ""):
        self.model, self.path, self.reason = model, path, reason
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"weights for '{model}' are not on this machine{because}: the file {path.name} belongs "
            f"in the folder {path.parent} (download it there, or run `sightline models import "
            f"FILE`, or set TORCH_HOME to the folder that holds hub/checkpoints)"
        )


def hub_checkpoint_dir() -> Path:
    """torchvision's weights cache: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cache_path_for_url(url: str) -> Path:
    return hub_checkpoint_dir() / os.path.basename(urlparse(url).path)


def user_models_dir() -> Path:
    """Where Sightline keeps models the user trained or imported (not torchvision's)."""
    return data_dir() / "models"


PICKLE_REFUSED = ("is a plain Python pickle, not PyTorch weights: refused, not loaded (a pickle can run code "
                  "when it is opened; save the weights with torch.save(model.state_dict(), FILE))")


def _is_plain_pickle(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # pickle PROTO, not a zip ("PK")


def load_weights_file(path: str | os.PathLike) -> dict:
    """A state dict or checkpoint dict from `path`, safely (weights_only=True), on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing a pickle
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" not in text and "global" not in text:
            if _is_plain_pickle(path):
                raise WeightsError(f"{path}: {PICKLE_REFUSED}") from None
            raise WeightsError(f"{path}: not a readable PyTorch weights file (corrupt or another format)") from None
        detail = next((line.strip() for line in text.splitlines() if "GLOBAL" in line or "global" in line), "")
        raise WeightsError(
            f"{path}: refused: the file holds Python objects that would run code when loaded, "
            f"not plain weights ({detail[:200]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else f"{type(exc).__name__}: the file ends too early"
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({reason})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: holds a {type(data).__name__}, not a dict of weights")
    return data


def extract_state_dict(data: dict, source: str | os.PathLike = "the file") -> dict:
    """The tensors of a checkpoint: a bare state dict, or one under 'model'/'state_dict'."""
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{source}: holds no tensors (not a model's weights)")
    return {k.removeprefix("module."): v for k, v in tensors.items()}


def load_state_dict_file(path: str | os.PathLike) -> dict:
    """The tensors of the weights file at `path`; WeightsError naming the file when unusable."""
    return extract_state_dict(load_weights_file(path), path)


def _sha256_prefix_ok(path: Path, name: str) -> bool:
    match = _HASH_IN_NAME.search(name)
    if not match:
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().startswith(match.group(1))


def download(
    url: str,
    destination: Path,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    timeout: float = 30.0,
) -> Path:
    """Download `url` to `destination` with progress, cancellable, verified, renamed into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(destination.parent, "*.partial")  # what a killed earlier download left
    partial = destination.with_name(destination.name + ".partial")
    began = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(1 << 20):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                out.write(block)
                done += len(block)
                if progress:
                    progress(Progress(done, total, f"downloading {destination.name}", time.monotonic() - began))
        if not _sha256_prefix_ok(partial, destination.name):
            raise WeightsError(f"{url}: the download is corrupt (checksum mismatch); try again")
        os.replace(partial, destination)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsError(f"could not download {url}: {getattr(exc, 'reason', exc)}") from None
    finally:
        if partial.exists():
            partial.unlink()
    return destination


def install_file(source: Path, destination: Path) -> Path:
    """Copy `source` to `destination` through a temporary file, so no half file is ever seen;
    a failed copy leaves nothing behind, and stale `.importing` files of killed runs go."""
    tmp = destination.with_name(destination.name + ".importing")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(destination.parent, "*.importing")
        shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
    except OSError as exc:
        raise WeightsError(
            f"cannot place the weights in {destination.parent} ({describe_os_error(exc)}); free some space "
            f"there, or set TORCH_HOME to a writable folder (the file goes in TORCH_HOME/hub/checkpoints)"
        ) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return destination
