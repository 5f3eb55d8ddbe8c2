"""The command line imports only the command it runs: `sightline export` or `import` starts
in well under a second instead of loading torch, torchvision and grad-cam first."""

import subprocess
import sys

from engine.cli import build_parser, command_named


def test_the_command_is_the_first_word_that_names_one():
    assert command_named(["--log-level", "info", "segment", "train", "x.png"]) == "segment"
    assert command_named(["--help"]) is None


def test_export_never_imports_torch():
    code = ("import sys, engine.cli as c; c.build_parser(argv=['export', 'a.png', '--out', 'x.json']);"
            "print(sorted(m for m in ('torch', 'torchvision', 'pytorch_grad_cam') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_without_a_command_every_command_is_listed():
    listed = build_parser().format_help()
    assert all(name in listed for name in ("detect", "export", "train-detector", "segment"))


def test_segment_never_imports_torchvision():
    """The segmenter is torch alone: its command (about 18 s for 150 images) does not pay
    for torchvision, the detectors or the training code."""
    code = ("import sys, engine.cli as c; c.build_parser(argv=['segment', 'a.png']);"
            "print(sorted(m for m in ('torchvision', 'engine.models', 'engine.train.pipeline') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
