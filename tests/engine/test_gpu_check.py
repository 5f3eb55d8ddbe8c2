"""`make gpu-check` at its small size on the CPU: the same table as on a GPU, every model and
mode with a figure, or saying it is CUDA only."""

import importlib.util
import io
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_small_gpu_check_measures_every_model_and_mode_on_the_cpu():
    gpu_check = _load_script()
    out = io.StringIO()
    rows = gpu_check.main(["--device", "cpu", "--small", "--budget-s", "600"], out=out)
    names = " ".join(row.model for row in rows)
    for model in ("demo-shapes", "maskrcnn_resnet50_fpn_v2", "keypointrcnn_resnet50_fpn", "classifier",
                  "training step", "video"):
        assert model in names
    for row in rows:
        measured = row.rate is not None and row.rate > 0
        assert measured or row.note == "CUDA only", f"{row.model} {row.mode}: {row.note}"
        assert row.peak_mib is None or row.peak_mib > 0
    modes = {row.mode for row in rows}
    assert {"fp32", "autocast fp16", "channels-last", "batch 2, channels-last", "stock torchvision call, fp32",
            "plain per-frame torchvision loop", "VideoAnalysis, default: one model call at a time",
            "VideoAnalysis, 2 model calls side by side"} <= modes  # one torch thread: one call by default
    assert all("x the plain loop" in r.note for r in rows if r.mode.startswith("VideoAnalysis"))
    table = out.getvalue().splitlines()
    assert table[0].startswith("gpu-check on CPU") and sum(line.startswith("| ") for line in table) == len(rows) + 2  # and the head
