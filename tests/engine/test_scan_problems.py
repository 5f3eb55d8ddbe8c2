"""Paths that cannot be used are named with their reason, never skipped silently: a missing
path ("not found"), a folder that cannot be listed ("permission denied"), a symlink loop."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import cli
from engine.images import scan_paths

NOBODY = 65534


def _scan_unprivileged(paths) -> dict:
    """scan_paths as a user without root's power to read any folder (a forked child drops to
    `nobody` when the tests run as root), as {"images", "missing", "unreadable"}."""
    def scan() -> dict:
        found = scan_paths(paths)
        return {"images": [str(p) for p in found.images], "missing": [str(p) for p in found.missing],
                "unreadable": [[str(p), reason] for p, reason in found.unreadable]}

    if os.geteuid() != 0:
        return scan()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, scan, send the result, leave
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write_end, json.dumps(scan()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def tree():
    """A world-readable folder (the unprivileged child must reach it): photos/ with one image
    and a subfolder nobody may list."""
    top = Path(tempfile.mkdtemp(prefix="sightline-scan-"))
    top.chmod(0o755)
    photos = top / "photos"
    (photos / "locked").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "a.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "locked" / "b.png")
    photos.chmod(0o755)
    (photos / "locked").chmod(0o000)
    os.symlink(top / "loop", top / "loop")
    yield top
    (photos / "locked").chmod(0o755)
    shutil.rmtree(top)


def test_an_unreadable_subfolder_is_named(tree):
    found = _scan_unprivileged([tree / "photos"])
    assert found["images"] == [str(tree / "photos" / "a.png")]
    assert found["unreadable"] == [[str(tree / "photos" / "locked"), "permission denied"]]


def test_missing_paths_and_symlink_loops_are_named(tree):
    found = scan_paths([tree / "nothere", tree / "loop", tree / "photos" / "a.png"])
    assert found.missing == [tree / "nothere"]
    assert found.unreadable == [(tree / "loop", "symlink loop")]


def test_detect_with_nothing_usable_names_each_path(tree, capsys):
    code = cli.main(["detect", str(tree / "nothere"), str(tree / "loop")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{tree / 'nothere'}: file or folder not found" in err
    assert f"{tree / 'loop'}: symlink loop" in err
