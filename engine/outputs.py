"""Where results go, checked before any work: no output lands on an input, every output
location can be written, and a write that still fails at the end is not lost.

    problems = check_output_file(path, inputs) + check_output_folder(folder, inputs)
    ...                                      # the work
    written = write_or_recover(path, write)  # the path, or a recovery file, and a note

`inputs` is an `InputSet` of the files being read. A path is "an input" when it names the
same file (after symlinks and `..`, or the same inode for hard links).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

MIN_FREE_BYTES = 1 << 20  # a disk with less than this free is reported as full before the work


class InputSet:
    """The input files of a run, to test whether an output path would write over one."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self._real: set[str] = set()
        self._inodes: set[tuple[int, int]] = set()
        for path in paths:
            self._real.add(os.path.normcase(os.path.realpath(path)))
            try:
                st = os.stat(path)
            except OSError:
                continue
            self._inodes.add((st.st_dev, st.st_ino))

    def __contains__(self, path: str | os.PathLike) -> bool:
        if os.path.normcase(os.path.realpath(path)) in self._real:
            return True
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) in self._inodes


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _folder_problem(folder: Path, what: str) -> Optional[str]:
    """Why new files cannot be made in `folder` (made first if missing), or None. A file is
    really made and removed, since permission bits do not tell (root, read-only mounts)."""
    base = _existing_ancestor(folder)
    if not base.is_dir():
        return f"{what}: {base} is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".sightline-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{what}: cannot write in the folder {base} ({describe_os_error(exc)})"
    try:
        free = shutil.disk_usage(base).free
    except OSError:
        return None
    if free < MIN_FREE_BYTES:
        return f"{what}: the disk holding {base} is full ({free} bytes free)"
    return None


def check_output_file(path: Optional[Path], inputs: InputSet, what: str) -> list[str]:
    """Problems with writing one result file at `path` (`what` names the option)."""
    if path is None:
        return []
    if path in inputs:
        return [f"{what} {path} is one of the input files; it would be written over (choose another name)"]
    if path.is_dir():
        return [f"{what} {path} is an existing folder; give a file name"]
    if path.exists() and not os.access(path, os.W_OK):
        return [f"{what} {path} exists and is read-only"]
    problem = _folder_problem(path.parent, f"{what} {path}")
    return [problem] if problem else []


def check_output_folder(folder: Optional[Path], inputs: InputSet, what: str,
                        planned: Iterable[Path] = ()) -> list[str]:
    """Problems with writing files into `folder`, including `planned` names landing on inputs."""
    if folder is None:
        return []
    if folder.exists() and not folder.is_dir():
        return [f"{what} {folder} is a file, not a folder"]
    problem = _folder_problem(folder, f"{what} {folder}")
    problems = [problem] if problem else []
    over = [p for p in planned if p in inputs]
    if over:
        shown = ", ".join(str(p) for p in over[:3]) + (f" and {len(over) - 3} more" if len(over) > 3 else "")
        problems.append(f"{what} {folder} would write over input files ({shown}); choose another folder")
    return problems


def same_outputs(named: dict[str, Optional[Path]]) -> list[str]:
    """Two options naming the same file: the later write would replace the earlier."""
    seen: dict[str, str] = {}
    problems = []
    for option, path in named.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            problems.append(f"{seen[key]} and {option} name the same file {path}")
        seen[key] = option
    return problems


# --- when the write still fails -----------------------------------------------------------


def data_home() -> Path:
    """The user's Sightline data folder ($SIGHTLINE_HOME, else $XDG_DATA_HOME/sightline)."""
    from engine.weights import user_models_dir

    return user_models_dir().parent


def recovery_folders() -> list[Path]:
    """Where results that cannot be written where asked go, in order of preference."""
    return [data_home() / "recovered", Path(tempfile.gettempdir()) / "sightline-recovered"]


def recovery_path(original: Path, folder: Path) -> Path:
    """A new dated file name for `original` in `folder`."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = folder / f"{stamp}-{original.name}", 2
    while candidate.exists():
        candidate, n = folder / f"{stamp}-{n}-{original.name}", n + 1
    return candidate


@dataclass(frozen=True)
class WriteOutcome:
    """Where a result file went: `path` is None when neither it nor a recovery file was written."""

    wanted: Path
    path: Optional[Path]
    error: str = ""  # why the wanted path failed (empty when it worked)

    @property
    def recovered(self) -> bool:
        return self.path is not None and self.path != self.wanted

    def message(self) -> str:
        if not self.error:
            return f"wrote {self.path}"
        if self.path is None:
            return f"cannot write {self.wanted} ({self.error}), nor a recovery copy anywhere; nothing was kept"
        return f"cannot write {self.wanted} ({self.error}); written to {self.path} instead"


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied" if exc.errno != errno.EROFS else "read-only file system"
    return exc.strerror or str(exc)


def write_or_recover(path: Path, write: Callable[[Path], object],
                     folders: Optional[Sequence[Path]] = None) -> WriteOutcome:
    """`write(path)`; when that raises OSError, `write(a dated file)` in the first of `folders`
    (default `recovery_folders()`) where it works."""
    try:
        write(path)
        return WriteOutcome(path, path)
    except OSError as exc:
        error = describe_os_error(exc)
    for folder in folders if folders is not None else recovery_folders():
        spare = recovery_path(path, Path(folder))
        try:
            write(spare)
        except OSError:
            continue
        return WriteOutcome(path, spare, error)
    return WriteOutcome(path, None, error)
