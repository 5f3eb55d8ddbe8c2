"""Sightline's window (PySide6): thin views over engine results; model jobs via gui.scheduler, other background work via gui.work."""
