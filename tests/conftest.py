"""Test-wide settings: Qt renders offscreen, and nothing is written to the user's home."""

import os
import tempfile

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SIGHTLINE_HOME", tempfile.mkdtemp(prefix="sightline-test-home-"))
# No test reads or writes the user's torchvision cache: weights placed by a test stay in a
# temporary TORCH_HOME, and every model whose weights a test does not place is "missing".
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="sightline-test-torch-home-")


@pytest.fixture
def one_torch_thread():
    """Model tests run torch on one thread: on two shared cores it is several times faster
    than two threads fighting the Qt and data threads, and results do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def demo_detector():
    """The bundled demo model on the CPU, one torch thread (the cores are shared)."""
    from engine.detect import Detector

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Detector("demo-shapes", device="cpu")
    torch.set_num_threads(before)
