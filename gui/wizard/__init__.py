"""The classifier training wizard (Tools > Train classifier..., or `sightline train` with no
folder). Opening it from a window:

    wizard = TrainWizard(parent, device=device)
    wizard.classifierSaved.connect(on_saved)      # path of the new model file
    wizard.show()
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from gui.wizard.wizard import TrainWizard


def open_wizard_standalone(folder: Optional[str | os.PathLike] = None) -> int:
    """Run the wizard as the application's only window; returns the exit code (0)."""
    from PySide6.QtWidgets import QApplication

    from gui.app import application
    from gui.wizard.worker import live_jobs, shutdown_all

    app = application()
    wizard = TrainWizard(folder=folder)
    wizard.classifierSaved.connect(lambda path: print(f"model written to {path}", file=sys.stdout, flush=True))
    wizard.finished.connect(lambda *_: QApplication.quit())
    wizard.show()
    wizard.raise_()
    app.exec()
    shutdown_all()  # the window is gone: cancel what runs (a training step is never waited for)
    if any(job.running for job in live_jobs()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # a training step still in torch: abandoned, as in the main window
    wizard.deleteLater()
    return 0


__all__ = ["TrainWizard", "open_wizard_standalone"]
