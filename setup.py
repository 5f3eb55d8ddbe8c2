"""Which packages go into the wheel (everything else is in pyproject.toml): every package
under engine/, gui/ and sightline/, found as they are added, plus the top-level resources/
folder installed as the package `sightline_resources` (read with importlib.resources)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine", "engine.*", "gui", "gui.*", "sightline", "sightline.*"])
    + ["sightline_resources"],
    package_dir={"sightline_resources": "resources"},
)
