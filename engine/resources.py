"""Files shipped with Sightline: the demo model, sample images, the style sheet, the icon and
the desktop entry. In the repository they live in the top-level `resources/` folder; an
installed wheel carries that folder as the package `sightline_resources` (pyproject.toml maps
one onto the other), read through importlib.resources."""

from __future__ import annotations

import atexit
import contextlib
import importlib.resources
from functools import lru_cache
from pathlib import Path

PACKAGE = "sightline_resources"
SOURCE_TREE_DIR = Path(__file__).resolve().parent.parent / "resources"


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The folder of bundled files: this source checkout's when the code runs from one (so a
    second checkout never reads the resources of the one that is installed), else the
    installed package's."""
    if (SOURCE_TREE_DIR.parent / "pyproject.toml").is_file() and SOURCE_TREE_DIR.is_dir():
        return SOURCE_TREE_DIR
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:  # running from a source checkout that is not installed
        return SOURCE_TREE_DIR
    if isinstance(root, Path):
        return root
    # A zipped install: unpack once for the life of the process.
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return Path(stack.enter_context(importlib.resources.as_file(root)))


def resource(*parts: str) -> Path:
    """A bundled file, e.g. resource("models", "demo-shapes.pt")."""
    return resources_dir().joinpath(*parts)
