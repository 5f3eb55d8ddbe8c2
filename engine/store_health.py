"""The review store checked before it is opened, and its damaged results told apart from
results that were never made.

    health = check_store_file(path)     # before any connection writes to it
    if health.problem:
        tell_the_user(health.message())

- A file that is empty (0 bytes: truncated) or is not an SQLite database (its start
  overwritten) is moved aside to `review.sqlite3.damaged-<date>` (with its -wal and -shm),
  and a new, empty store starts in its place.
- A database that fails SQLite's `quick_check` (garbage in the middle) is copied aside the
  same way and then used as it is: what can still be read is kept, and each result that
  cannot be read comes back from `ReviewStore.load_result` / `summaries` marked `damaged`
  with `damage_reason`'s words (not as "never analysed").

Nothing here writes to the store itself; the dated copy is made before anything else opens it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm")
# What reading a damaged result raises: SQLite's "database disk image is malformed" (a
# DatabaseError that is not an OperationalError such as "locked"), or a payload that does not
# decode (a broken .npz: BadZipFile, zlib.error, ValueError, KeyError, EOFError, OSError).
DECODE_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, KeyError, EOFError, OSError)


@dataclass(frozen=True)
class StoreHealth:
    """What the check found: `problem` is "" for a usable store (or none yet)."""

    path: Path
    problem: str = ""
    kept: Optional[Path] = None  # the dated copy of the damaged file
    fresh: bool = False  # a new, empty store replaces it

    def message(self) -> str:
        if not self.problem:
            return ""
        kept = f"a copy of it was kept as {self.kept}" if self.kept else "no copy could be made of it"
        then = ("a new, empty review store was started" if self.fresh else
                "what can still be read is used, and results that cannot be read are shown as damaged")
        return f"The review store {self.path} {self.problem}; {kept}; {then}."


def _read_problem(path: Path) -> tuple[str, bool]:
    """(why the file is not a usable store, whether a fresh start is needed), ("", False) if fine."""
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if not head:
        return "was empty (0 bytes): it had been truncated", True
    if head != SQLITE_HEADER:
        return "is not an SQLite database (the start of the file was overwritten)", True
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=10.0)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return "", False  # locked or busy (another Sightline is writing): not damage
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})", False
    if rows != [("ok",)]:
        found = [line for row in rows for line in str(row[0]).splitlines() if not line.startswith("***")]
        more = f" and {len(found) - 2} more problems" if len(found) > 2 else ""
        return f"is damaged (SQLite's check: {'; '.join(found[:2])}{more})", False
    return "", False


def _aside_name(path: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.name}.damaged-{stamp}"), 2
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
    return candidate


def _set_aside(path: Path, move: bool) -> Optional[Path]:
    """The store file (and its -wal/-shm) copied, or moved, to a dated name beside it."""
    target = _aside_name(path)
    try:
        for suffix in ("", *SIDE_FILES):
            source = Path(f"{path}{suffix}")
            if source.exists():
                (os.replace if move else shutil.copy2)(source, Path(f"{target}{suffix}"))
    except OSError:
        return None
    return target


def check_store_file(path: str | os.PathLike) -> StoreHealth:
    """Check the store at `path` before opening it; set a damaged file aside (see the module)."""
    path = Path(path)
    if not path.is_file():
        return StoreHealth(path)
    try:
        problem, fresh = _read_problem(path)
    except OSError:
        return StoreHealth(path)  # unreadable: opening it reports the error with its path
    if not problem:
        return StoreHealth(path)
    kept = _set_aside(path, move=fresh)
    if kept is None and fresh:  # nothing may be lost: without a copy, leave the file as it is
        return StoreHealth(path, problem, None, False)
    return StoreHealth(path, problem, kept, fresh)


def damage_reason(exc: BaseException) -> str:
    """Why a stored result cannot be read, when `exc` says it is damaged (a malformed database
    page, a payload that does not decode); "" for any other error (a lock, a closed store)."""
    if isinstance(exc, sqlite3.OperationalError) or not isinstance(exc, (sqlite3.DatabaseError, *DECODE_ERRORS)):
        return ""
    return f"the stored result cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
