"""Sightline's window (PySide6): thin views over engine results; background work via gui.jobs."""
