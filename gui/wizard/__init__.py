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
    from gui.wizard.worker import shutdown_all

    app = application()
    wizard = TrainWizard(folder=folder)
    wizard.classifierSaved.connect(lambda path: print(f"model written to {path}", file=sys.stdout, flush=True))
    wizard.finished.connect(lambda *_: QApplication.quit())
    wizard.show()
    wizard.raise_()
    app.exec()
    shutdown_all()  # the window is gone; let any work end before the interpreter does
    wizard.deleteLater()
    return 0


__all__ = ["TrainWizard", "open_wizard_standalone"]
