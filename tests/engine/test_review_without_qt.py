"""The review core runs in a process where no Qt binding can be imported."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_review_core_without_qt():
    env = dict(os.environ, SIGHTLINE_BLOCK_QT="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:pytest-qt", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "review")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_the_blocker_really_blocks_qt():
    """Without this the test above would prove nothing."""
    code = ("import sys; sys.path.insert(0, 'tests/review'); import conftest\n"
            "try:\n    import PySide6.QtCore\nexcept ImportError as e:\n    print('blocked', e)\n")
    env = dict(os.environ, SIGHTLINE_BLOCK_QT="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert "blocked" in proc.stdout, proc.stderr
