"""Running the `sightline` command in-process, its output captured."""

import contextlib
import io

import pytest

from sightline.cli import main


def _run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def run_cli():
    """run_cli("detect", path, ...) -> (exit code, stdout, stderr)."""
    return _run
