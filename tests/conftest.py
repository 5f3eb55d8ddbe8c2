"""Test-wide settings: Qt renders offscreen, and nothing is written to the user's home."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SIGHTLINE_HOME", tempfile.mkdtemp(prefix="sightline-test-home-"))
# No test reads or writes the user's torchvision cache: weights placed by a test stay in a
# temporary TORCH_HOME, and every model whose weights a test does not place is "missing".
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="sightline-test-torch-home-")
