"""Temporary files that a killed run leaves behind (`.x.partial.mp4` of an annotated video,
`x.pth.importing` of a weights import, `.x.tmp` of an atomic write) are removed by the next
run that writes the same kind of file in the same folder. Only files untouched for
`STALE_SECONDS` are removed, so a run still writing one at the same moment keeps it."""

from __future__ import annotations

import os
import time
from pathlib import Path

STALE_SECONDS = 120.0


def remove_stale(folder: str | os.PathLike, pattern: str, older_than: float = STALE_SECONDS) -> list[Path]:
    """Delete the files in `folder` matching the glob `pattern` not modified for `older_than`
    seconds; returns what was removed. Errors (a folder that is gone, a file in use) are ignored."""
    removed, now = [], time.time()
    try:
        candidates = list(Path(folder).glob(pattern))
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_file() and now - path.stat().st_mtime >= older_than:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed
