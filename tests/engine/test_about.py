"""The version About and `--version` show: the installed one, else pyproject.toml's."""

import tomllib
from importlib import metadata
from pathlib import Path

from engine import about


def test_a_source_checkout_that_is_not_installed_still_has_a_version(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert about.version() == f"{pyproject['project']['version']} (source checkout, not installed)"
