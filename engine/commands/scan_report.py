"""What a scan of the given paths could not use, as summary failures and one clear message
when nothing usable was found: each path is named with "not found", "permission denied" or
"symlink loop"."""

from __future__ import annotations

from engine.images import FileScan
from engine.types import ImageFailure

NOT_FOUND = "file or folder not found"


def scan_failures(scan: FileScan) -> list[ImageFailure]:
    """One failure per given path that does not exist and per folder that cannot be read."""
    failures = [ImageFailure(str(p), NOT_FOUND) for p in scan.missing]
    return failures + [ImageFailure(str(p), reason) for p, reason in scan.unreadable]


def nothing_found_message(paths: list[str], scan: FileScan, what: str = "images or videos",
                          skipped: int | None = None) -> str:
    """Why a run found nothing to do, naming every path that could not be used."""
    skipped = len(scan.skipped) if skipped is None else skipped
    text = f"no {what} found in {', '.join(str(p) for p in paths)} ({skipped} other files skipped)"
    problems = [f"{f.path}: {f.reason}" for f in scan_failures(scan)]
    return text + "".join(f"\n  {line}" for line in problems)
