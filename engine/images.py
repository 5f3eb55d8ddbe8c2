"""Reading images the way a user expects: EXIF orientation applied, any mode made RGB,
and one clear error type that names the file and the reason when it cannot be read."""

from __future__ import annotations

import errno
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from engine.limits import image_too_large

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey half image
Image.MAX_IMAGE_PIXELS = 250_000_000  # 250 MP; beyond that PIL refuses (decompression bombs)


class ImageLoadError(Exception):
    """An image file that cannot be used; str() names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """The image at `path` as an (H, W, 3) uint8 RGB array, upright per its EXIF orientation.

    Raises ImageLoadError for a missing, empty, truncated, oversized or non-image file.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(path, "file not found")
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image")
    try:
        if path.stat().st_size == 0:
            raise ImageLoadError(path, "file is empty (0 bytes)")
        with warnings.catch_warnings():  # sizes PIL warns about are checked just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            too_large = image_too_large(*image.size)  # from the header, before any decoding
            if too_large:
                raise ImageLoadError(path, too_large)
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            return np.array(_to_rgb(upright), dtype=np.uint8)  # a writable copy
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image file, or a format that cannot be read") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"image too large to open safely ({exc})") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except MemoryError:
        raise ImageLoadError(path, "not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        corrupt = any(word in text.lower() for word in ("truncated", "broken", "corrupt"))
        reason = "file is truncated or corrupt" if corrupt else text
        raise ImageLoadError(path, f"cannot decode image: {reason}") from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) as displayed (EXIF-rotated), read from the header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ImageLoadError(path, f"cannot read image header: {exc}") from None
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


@dataclass
class FileScan:
    """The files found under some paths: images, videos, and what was skipped."""

    images: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # not an image or video by its name
    missing: list[Path] = field(default_factory=list)  # given paths that do not exist
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (path, reason): folders not listed


def _stat_problem(path: Path) -> str:
    """Why `path` cannot be used ("not found", "permission denied", "symlink loop"), or ""."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return "not found" if not os.path.islink(path) else "not found (a link to a missing file)"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
    return ""


def _classify(path: Path, scan: FileScan) -> None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        scan.images.append(path)
    elif suffix in VIDEO_EXTENSIONS:
        scan.videos.append(path)
    else:
        scan.skipped.append(path)


def scan_paths(paths: Iterable[str | os.PathLike]) -> FileScan:
    """Images and videos among `paths`, folders searched recursively in sorted order.

    Hidden files and folders (names starting with '.') inside folders are ignored. Given paths
    that do not exist go to `missing`; folders that cannot be listed (and given paths that
    cannot be read) to `unreadable` with the reason.
    """
    scan = FileScan()

    def unlisted(exc: OSError) -> None:
        reason = "permission denied" if isinstance(exc, PermissionError) else _stat_problem(Path(exc.filename))
        scan.unreadable.append((Path(exc.filename), reason or exc.strerror or str(exc)))

    for given in paths:
        path = Path(given)
        problem = _stat_problem(path)
        if problem == "not found":
            scan.missing.append(path)
        elif problem:
            scan.unreadable.append((path, problem))
        elif path.is_dir():
            for root, dirs, files in os.walk(path, onerror=unlisted):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        _classify(Path(root) / name, scan)
        else:
            _classify(path, scan)
    return scan
