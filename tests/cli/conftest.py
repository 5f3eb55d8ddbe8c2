"""Running the `sightline` command in-process, its output captured."""

import contextlib
import io

import pytest
import torch

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


@pytest.fixture(scope="module")
def demo_detector():
    """The bundled demo model on the CPU, one torch thread (the cores are shared)."""
    from engine.detect import Detector

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Detector("demo-shapes", device="cpu")
    torch.set_num_threads(before)
